from django.apps import AppConfig


class RulebookConfig(AppConfig):
    """Governance of the rules: the working copy built from the knowledge
    base, its snapshots, the published versions, preview, publishing and
    comparing versions. Sits between `conditions` (the knowledge base it
    reads) and `screening` (the records that use it), and imports neither
    `screening` nor anything above it."""

    name = "rulebook"
    verbose_name = "Rulebook"

    def ready(self):
        from rulebook import signals

        signals.connect()
