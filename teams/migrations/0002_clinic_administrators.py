"""The clinic administrators' role: they manage users, their roles (groups)
and teams in the admin. Only a superuser makes a superuser or grants a single
permission (accounts.admin)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

ROLE = "Clinic administrators"
# (app label, codename): nobody is deleted (users are made inactive), and the
# roles themselves are the migrations' to define, so groups are only read.
ADMINISTRATOR_PERMISSIONS = [
    ("auth", "add_user"), ("auth", "change_user"), ("auth", "view_user"), ("auth", "view_group"),
    ("teams", "add_team"), ("teams", "change_team"), ("teams", "view_team"),
    ("teams", "add_membership"), ("teams", "change_membership"), ("teams", "delete_membership"),
    ("teams", "view_membership"),
]


def administrator_permissions(Permission):
    granted = Q(pk__in=[])
    for app_label, codename in ADMINISTRATOR_PERMISSIONS:
        granted |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(granted)


def create_role(apps, schema_editor):
    # On a fresh database permissions are made after migrate (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    permissions = list(administrator_permissions(apps.get_model("auth", "Permission")))
    if len(permissions) != len(ADMINISTRATOR_PERMISSIONS):
        raise RuntimeError(f"Permissions missing for {ROLE}")
    group, _ = Group.objects.get_or_create(name=ROLE)
    group.permissions.add(*permissions)


def remove_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ROLE).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("teams", "0001_teams_and_memberships"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role, remove_role)]
