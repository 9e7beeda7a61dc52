from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """Clinics as teams: who may read whose final screenings."""

    name = "teams"
    verbose_name = "Teams"
