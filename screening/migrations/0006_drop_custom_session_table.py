"""Sessions are Django's own again (cached_db, in django_session): the table
of the session engine this project used to have goes, and with it every
session in it, so everyone signs in once more after upgrading."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("screening", "0005_stored_pdf"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS accounts_session", reverse_sql=migrations.RunSQL.noop),
    ]
