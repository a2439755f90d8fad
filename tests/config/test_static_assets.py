"""Every asset a template names with {% static %} ships in the repository.

In production the manifest storage refuses to render a page that names a
missing file, so a forgotten asset would turn every page into an error.
"""

import re
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")


def test_every_static_file_a_template_names_exists():
    # given
    templates = list(Path(settings.BASE_DIR, "templates").rglob("*.html"))
    named = {match for path in templates for match in STATIC_TAG.findall(path.read_text())}

    # when
    missing = sorted(name for name in named if finders.find(name) is None)

    # then
    assert named, "no template names a static file; the pattern is wrong"
    assert missing == []
