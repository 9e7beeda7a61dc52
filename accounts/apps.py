from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Two-step sign-in; its devices are django-otp's models."""

    name = "accounts"
    verbose_name = "Sign-in"
