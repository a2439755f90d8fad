"""Load the default pattern minimums (domain reference, maturity section) as policy data.

Administrators change them later through the service; this migration only
creates rows that do not exist yet, so it never overwrites an edited policy.
"""

from django.db import migrations

DEFAULT_MINIMUMS = {
    # pattern: (strategy, process, governance, technology, adoption)
    "employee_enablement": (1, 1, 2, 1, 2),
    "expert_empowerment": (2, 2, 3, 2, 2),
    "workplace_services": (2, 3, 3, 3, 2),
    "core_process": (3, 4, 4, 3, 3),
    "external_engagement": (3, 3, 4, 4, 3),
    "ai_first": (4, 4, 4, 4, 4),
}
DIMENSIONS = ("strategy", "process", "governance", "technology", "adoption")


def load(apps, schema_editor):
    PatternMinimum = apps.get_model("portfolio", "PatternMinimum")
    for pattern, levels in DEFAULT_MINIMUMS.items():
        PatternMinimum.objects.get_or_create(pattern=pattern, defaults=dict(zip(DIMENSIONS, levels, strict=True)))


def unload(apps, schema_editor):
    apps.get_model("portfolio", "PatternMinimum").objects.filter(version=1, updated_by=None).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
