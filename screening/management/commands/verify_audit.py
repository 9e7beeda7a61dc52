"""Walks the audit trail's hash chain (see AuditEvent) from its first event
to its last and to the chain's head row."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from screening.models import AuditChainHead, AuditEvent


class Command(BaseCommand):
    help = (
        "Checks that no audit event was changed or removed: prints the first broken link and "
        "exits 1, or prints how many events it verified and exits 0."
    )

    def handle(self, **options):
        previous_hash, previous_id, count = "", None, 0
        for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
            if event.previous_hash != previous_hash:
                self.broken(event, (
                    f"it does not follow event {previous_id}: an event between them was removed, "
                    "or one before it was changed"
                ) if previous_id else "it does not start the chain: the events before it were removed")
            if event.content_hash() != event.hash:
                self.broken(event, "its content does not match its hash: it was changed after it was written")
            previous_hash, previous_id, count = event.hash, event.pk, count + 1
        head = AuditChainHead.objects.filter(pk=1).first()
        if (head.last_hash if head else "") != previous_hash:
            self.stderr.write(
                f"Broken link after audit event {previous_id or '(none)'}: the chain's head records a "
                f"later event ({head.last_event_id}), so events were removed from the end."
            )
            raise SystemExit(1)
        self.stdout.write(f"{count} audit events verified: the chain is unbroken.")

    def broken(self, event, problem):
        at = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z")
        self.stderr.write(f"Broken link at audit event {event.pk} ({at}, {event.action}): {problem}.")
        raise SystemExit(1)
