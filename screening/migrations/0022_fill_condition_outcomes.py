"""The outcome rows (0021) of every final screening finalised before they
were written on finalising: each condition's status and deciding criteria
from the stored result, the decision from its AdvisoryOverride rows, and
the owner's team as it is when this runs (which team they were in when it
was finalised was not kept). Finals that have rows already are left alone,
so running it again adds nothing."""

from django.db import migrations
from django.db.models import Exists, OuterRef, Subquery

from screening.attrition import outcomes_of

BATCH = 500


def fill_outcomes(apps, schema_editor=None):
    Screening = apps.get_model("screening", "Screening")
    ConditionOutcome = apps.get_model("screening", "ConditionOutcome")
    DecidingCriterion = apps.get_model("screening", "DecidingCriterion")
    AdvisoryOverride = apps.get_model("screening", "AdvisoryOverride")
    Membership = apps.get_model("teams", "Membership")
    missing = list(
        Screening.objects.filter(status="final")
        .filter(~Exists(ConditionOutcome.objects.filter(screening=OuterRef("pk"))))
        .order_by("pk").values_list("pk", flat=True)
    )
    owner_team = Membership.objects.filter(user_id=OuterRef("owner_id")).values("team_id")[:1]
    for start in range(0, len(missing), BATCH):
        batch = missing[start:start + BATCH]
        decisions = {
            (screening_id, condition): decision
            for screening_id, condition, decision in AdvisoryOverride.objects.filter(screening_id__in=batch)
            .values_list("screening_id", "condition", "decision")
        }
        finals = (
            Screening.objects.filter(pk__in=batch).annotate(owner_team_id=Subquery(owner_team))
            .order_by("pk").values_list("pk", "result", "finalised_at", "updated_at", "owner_team_id")
        )
        outcomes, criteria = [], []
        for pk, result, finalised_at, updated_at, team_id in finals:
            for condition, status, keys in outcomes_of(result or {}):
                outcomes.append(ConditionOutcome(
                    screening_id=pk, condition=condition, status=status,
                    decision=decisions.get((pk, condition), "follow"), team_id=team_id,
                    finalised_at=finalised_at or updated_at,
                ))
                criteria.append(keys)
        made = ConditionOutcome.objects.bulk_create(outcomes)
        DecidingCriterion.objects.bulk_create(
            DecidingCriterion(outcome_id=outcome.pk, criterion=key)
            for outcome, keys in zip(made, criteria, strict=True) for key in keys
        )


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0021_criterion_attrition'),
        ('teams', '0001_teams_and_memberships'),
    ]

    operations = [migrations.RunPython(fill_outcomes, migrations.RunPython.noop)]
