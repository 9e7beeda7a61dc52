from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Screening"

    def ready(self):
        from screening import checks, signals  # noqa: F401 (checks registers itself)

        signals.connect()
