"""Links written out in the templates (the navigation, the list page) lead
to a page of the project: a changed URL pattern fails here, not in a
clinician's browser."""

import re
from pathlib import Path

from django.conf import settings
from django.urls import Resolver404, resolve

WRITTEN_OUT = re.compile(r'(?:href|action)="(/[^"{]*)"')


def written_out_paths():
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for path in WRITTEN_OUT.findall(template.read_text()):
            yield template.name, path


def test_every_written_out_link_resolves():
    paths = list(written_out_paths())
    assert ("base.html", "/accounts/logout/") in paths and ("list.html", "/screenings/new/") in paths
    unresolved = []
    for template, path in paths:
        try:
            resolve(path)
        except Resolver404:
            unresolved.append((template, path))
    assert unresolved == []
