"""`python manage.py create_demo_users`: a clinical lead and clinicians to try the app with.

The lead (also a clinic administrator: users and teams in the admin) and
the clinicians `clinician` and `colleague` are in the team "Northside
clinic", so they read each other's final screenings; `outsider` is in
"Southside clinic" and sees none of them.

Development only: refuses to run unless DEBUG is on. Each password is random
and printed once; re-running leaves existing users untouched. Those who must
use two-factor sign-in (the lead; everyone with TWO_FACTOR_FOR_CLINICIANS)
are enrolled at once: their authenticator key and recovery codes are
printed with the password.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from screening.audit import audit
from screening.models import AuditAction
from teams.models import Membership, Team

DEMO_USERS = [
    # username, what they are, their groups, may use the admin, full name (on summaries and PDFs), team
    ("lead", "clinical lead", ("Clinical leads", "Clinic administrators"), True, ("Sam", "Patel"), "Northside clinic"),
    ("clinician", "clinician", ("Clinicians",), False, ("Alex", "Morgan"), "Northside clinic"),
    ("colleague", "clinician", ("Clinicians",), False, ("Jo", "Okafor"), "Northside clinic"),
    ("outsider", "clinician", ("Clinicians",), False, ("Robin", "Hughes"), "Southside clinic"),
]


class Command(BaseCommand):
    help = (
        "Create the demo users `lead` (clinical lead), `clinician` and `colleague` (its team) and "
        "`outsider` (another team) when missing. DEBUG only."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Demo users have printed passwords and are for development only; "
                "this command runs only with DEBUG on."
            )
        User = get_user_model()
        created = False
        for username, role, group_names, is_staff, (first_name, last_name), team_name in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"User “{username}” already exists; left unchanged.")
                continue
            groups = list(Group.objects.filter(name__in=group_names))
            if len(groups) != len(group_names):
                missing = set(group_names) - {group.name for group in groups}
                raise CommandError(
                    f"The group “{sorted(missing)[0]}” is missing; run `python manage.py migrate` first."
                )
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(
                username=username, password=password, is_staff=is_staff, first_name=first_name, last_name=last_name,
            )
            user.groups.add(*groups)
            team, _ = Team.objects.get_or_create(name=team_name)
            Membership.objects.create(user=user, team=team)
            created = True
            self.stdout.write(self.style.SUCCESS(
                f"Created {role} “{username}” with password: {password} (team: {team_name})"
            ))
            if two_factor.two_factor_required(user):
                self.enrol(user)
        if created:
            self.stdout.write(
                "Each password (and key) is shown only this once; reset a lost password with "
                "`python manage.py changepassword`, a lost key by removing the user's devices in the admin."
            )

    def enrol(self, user):
        device = TOTPDevice.objects.create(user=user, name=two_factor.AUTHENTICATOR_NAME, confirmed=True)
        audit(AuditAction.TWO_FACTOR_ENROLLED, user=user)
        codes = two_factor.new_recovery_codes(user, request=None)
        self.stdout.write(
            f"  “{user.get_username()}” signs in with two factors. Authenticator key (time-based, "
            f"enter it in an authenticator app): {two_factor.key_as_text(device)}\n"
            f"  or, instead of a code, one of these recovery codes (each works once): {' '.join(codes)}"
        )
