"""System checks of the screening app's settings (`manage.py check --deploy`)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def fhir_base_url_check(app_configs, **kwargs):
    """FHIR_BASE_URL starts every canonical URL KetaScreen's FHIR resources
    carry, which record systems keep for ever: in production it must be the
    site's own https address, not the development default."""
    parts = urlsplit(settings.FHIR_BASE_URL)
    if parts.scheme == "https" and parts.hostname not in (None, "localhost", "127.0.0.1"):
        return []
    return [Warning(
        f"FHIR_BASE_URL is {settings.FHIR_BASE_URL!r}.",
        hint="Set FHIR_BASE_URL to this site's own https address followed by /fhir "
             "(e.g. https://screen.example.org/fhir) before the first FHIR export: record systems "
             "keep the questionnaire's canonical URL, which starts with it, for ever.",
        id="screening.W001",
    )]
