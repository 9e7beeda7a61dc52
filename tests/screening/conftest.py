import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import settings

from rulebook.versions import build_rulebook

# Shared CI machines are noisy: judge properties on their examples, not on
# how long each took.
settings.register_profile("ketascreen", deadline=None, max_examples=150)
settings.load_profile("ketascreen")


@pytest.fixture(scope="session")
def default_rulebook(django_db_setup, django_db_blocker):
    """The shipped knowledge base as a Rulebook, for tests that need no
    database of their own: loaded once, read, and rolled back."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_knowledge_base", verbosity=0)
        rulebook = build_rulebook()
        transaction.set_rollback(True)
    return rulebook
