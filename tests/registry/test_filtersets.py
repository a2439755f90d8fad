"""Filter labels: written out, never derived from what the process happened to load before."""

import subprocess
import sys

from django.conf import settings

LABELS_IN_A_FRESH_PROCESS = """
import importlib
import django
import django_filters

django.setup()
for app in ("registry", "telemetry", "governance", "portfolio"):
    module = importlib.import_module(f"{app}.filtersets")
    for name in dir(module):
        cls = getattr(module, name)
        if isinstance(cls, type) and issubclass(cls, django_filters.FilterSet) and cls._meta.model is not None:
            for field, form_field in cls().form.fields.items():
                print(f"{app}.{name}.{field}\\t{form_field.label}")
"""


def test_every_filter_has_a_readable_label_in_a_process_that_built_nothing_else():
    # given: a new worker, which has not generated the API schema nor rendered any page
    env = {"DJANGO_SETTINGS_MODULE": "config.test_settings", "PATH": "/usr/bin:/bin"}
    # when
    result = subprocess.run(  # noqa: S603 (our own interpreter on our own code)
        [sys.executable, "-c", LABELS_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        timeout=120,
    )
    # then
    labels = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert labels["registry.AgentFilterSet.environment"] == "Runs in environment"
    unreadable = {name: label for name, label in labels.items() if label in ("None", "") or "[invalid" in label}
    assert unreadable == {}
