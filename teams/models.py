"""A clinic is a team. Each user belongs to one team at most; clinicians in
a team read each other's final screenings and their patients' histories
(screening.models.ScreeningQuerySet.visible_to), and edit only their own
drafts. A user in no team sees only their own screenings."""

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="The clinic's name, as its staff know it.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in a team: one team per user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_membership",
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "team membership"

    def __str__(self):
        return f"{self.user} in {self.team}"


def team_mates(user, other_id) -> bool:
    """Whether `user` and the user `other_id` are in the same team: 1 query."""
    return Membership.objects.filter(user=user, team__memberships__user_id=other_id).exists()
