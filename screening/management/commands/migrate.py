"""Django's `migrate`, signed in as the owner role when MIGRATE_DATABASE_URL
is set (config.database): the app's own role may not change the schema."""

from django.core.management.commands import migrate

from config.database import as_owner


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as the owner role (MIGRATE_DATABASE_URL) when it is set."

    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
