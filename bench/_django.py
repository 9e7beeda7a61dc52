"""Set up Django for a benchmark on a throwaway SQLite database with the
default knowledge base loaded."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_with_knowledge_base():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    database = Path(tempfile.mkdtemp(prefix="ketascreen-bench-")) / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("load_knowledge_base", verbosity=0)
    return database
