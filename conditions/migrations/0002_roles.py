"""The two roles: clinical leads edit the knowledge base, clinicians read it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

KNOWLEDGE_BASE_MODELS = ["section", "reference", "condition", "question", "criterion"]
HISTORICAL_MODELS = [
    "historicalsection",
    "historicalreference",
    "historicalcondition",
    "historicalcondition_references",
    "historicalquestion",
    "historicalcriterion",
    "historicalcriterion_conditions",
    "historicalcriterion_references",
]
ROLES = {
    "Clinical leads": [
        f"{action}_{model}"
        for model in KNOWLEDGE_BASE_MODELS
        for action in ("add", "change", "delete", "view")
    ] + [f"view_{model}" for model in HISTORICAL_MODELS],
    "Clinicians": [f"view_{model}" for model in KNOWLEDGE_BASE_MODELS],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate finishes (post_migrate);
    # on a fresh database they do not exist yet, so create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        permissions = list(
            Permission.objects.filter(content_type__app_label="conditions", codename__in=codenames)
        )
        missing = set(codenames) - {permission.codename for permission in permissions}
        if missing:
            raise RuntimeError(f"Permissions missing for {name}: {', '.join(sorted(missing))}")
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("conditions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
