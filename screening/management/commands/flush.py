"""Django's `flush`, signed in as the owner role when MIGRATE_DATABASE_URL
is set (config.database): the app's own role may not TRUNCATE. The test
runner empties the database this way after each transactional test."""

from django.core.management.commands import flush

from config.database import as_owner


class Command(flush.Command):
    help = flush.Command.help + " Runs as the owner role (MIGRATE_DATABASE_URL) when it is set."

    def handle(self, **options):
        with as_owner(options["database"]):
            return super().handle(**options)
