"""Walks the audit trail (see AuditEvent and screening.audit): the unkeyed
chain from before the audit key, its seal, and every keyed chain, each from
its first event to its head row."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from screening.models import AuditAction, AuditChainHead, AuditEvent

ANCHOR_ITEM = re.compile(r"\A(\d{1,19}):([0-9a-f]{64})\Z")


@dataclass
class Chain:
    """Where the walk along one chain has got to."""

    last_hash: str
    last_id: int | None = None
    last_at: object = None
    count: int = 0
    # A run of consecutive events whose hash is wrong: (first event, last event, how many).
    bad_run: tuple | None = None


def describe(event):
    """An event as a break names it: number, time and action."""
    at = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z") if event.at else "no time"
    return f"audit event {event.pk} ({at}, {event.action})"


def parse_anchors(values):
    """{event id: hash} from `--anchor` values, each `ID:HASH` items separated by commas."""
    anchors = {}
    for value in values:
        for item in value.split(","):
            match = ANCHOR_ITEM.match(item.strip())
            if not match:
                raise CommandError(
                    f"Cannot read the anchor item {item.strip()[:80]!r}: expected EVENT:HASH "
                    "(a number, a colon and 64 hexadecimal digits), as verify_audit printed it."
                )
            anchors[int(match.group(1))] = match.group(2)
    return anchors


class Walk:
    """One pass over every event, in order of id, noting each break once."""

    def __init__(self, seal):
        self.seal = seal
        self.start = seal.hash if seal is not None else ""
        self.legacy = Chain(last_hash="")
        self.chains: dict[int, Chain] = {}
        self.breaks: list[str] = []
        self.unknown_keys: dict[str, int] = {}
        self.unsealed: list = []  # unkeyed events while no seal exists: one break for them all
        self.count = 0

    def event(self, event):
        self.count += 1
        if not event.key_id:
            self.unkeyed(event)
        elif event.chain is None:
            self.sealing(event)
        else:
            self.keyed(event)

    def unkeyed(self, event):
        if self.seal is None:
            self.unsealed.append(event)
            return
        if event.pk > self.seal.pk:
            self.breaks.append(
                f"Broken trail at {describe(event)}: it has no key but was written after the key was introduced "
                f"(event {self.seal.pk}): it was inserted or rewritten without the key."
            )
            return
        self.follow(self.legacy, event, event.content_hash(), name="the unkeyed chain", keyed=False)

    def sealing(self, event):
        if event.pk != self.seal.pk:
            self.breaks.append(
                f"Broken trail at {describe(event)}: it names no chain but is not the seal "
                f"(event {self.seal.pk}): it was inserted or rewritten."
            )
            return
        if event.previous_hash != self.legacy.last_hash:
            after = f"the last unkeyed event ({self.legacy.last_id})" if self.legacy.last_id else "no unkeyed event"
            self.breaks.append(
                f"Broken link at {describe(event)}: the seal does not follow {after}: unkeyed events were "
                "removed, or the last one was changed."
            )
        self.check_hash(None, Chain(last_hash=event.previous_hash), event)

    def keyed(self, event):
        chain = self.chains.setdefault(event.chain, Chain(last_hash=self.start))
        self.follow(chain, event, None, name=f"chain {event.chain}", keyed=True)

    def follow(self, chain, event, expected_hash, *, name, keyed):
        if event.previous_hash != chain.last_hash:
            self.close_run(chain, name)
            if chain.last_id is None:
                self.breaks.append(
                    f"Broken link at {describe(event)}: it does not start {name}: the events before it were removed."
                )
            else:
                self.breaks.append(
                    f"Broken link at {describe(event)}: it does not follow event {chain.last_id} in {name}: "
                    "an event between them was removed, or one was changed and its hash made again."
                )
        if keyed and chain.last_at is not None and event.at < chain.last_at:
            self.breaks.append(
                f"Time goes backwards at {describe(event)}: it is dated before event {chain.last_id}, which it "
                f"follows in {name}: it was back-dated or inserted out of turn."
            )
        if keyed:
            self.check_hash(chain, chain, event, name=name)
        elif expected_hash != event.hash:
            self.breaks.append(
                f"Broken link at {describe(event)}: its content does not match its hash: it was changed after "
                "it was written."
            )
        chain.last_hash, chain.last_id, chain.last_at = event.hash, event.pk, event.at
        chain.count += 1

    def check_hash(self, run_chain, chain, event, *, name="the seal"):
        """Whether a keyed event's hash is its HMAC under its key; wrong
        hashes in a row are one break (one rewrite), reported once."""
        secret = settings.AUDIT_KEYS.get(event.key_id)
        if secret is None:
            self.unknown_keys[event.key_id] = self.unknown_keys.get(event.key_id, 0) + 1
            return
        try:
            good = event.keyed_hash(secret) == event.hash
        except (TypeError, ValueError, AttributeError, OverflowError) as error:
            good = False
            self.breaks.append(f"Broken trail at {describe(event)}: it cannot be read to check ({error}).")
        if run_chain is None:
            if not good:
                self.breaks.append(
                    f"Broken trail at {describe(event)}: its content does not match its keyed hash: it was "
                    "changed after it was written, or rewritten without the key."
                )
            return
        if good:
            self.close_run(run_chain, name)
        elif run_chain.bad_run is None:
            run_chain.bad_run = (event, event, 1)
        else:
            first, _last, count = run_chain.bad_run
            run_chain.bad_run = (first, event, count + 1)

    def close_run(self, chain, name):
        if chain.bad_run is None:
            return
        first, last, count = chain.bad_run
        chain.bad_run = None
        if count == 1:
            self.breaks.append(
                f"Broken trail at {describe(first)} in {name}: its content does not match its keyed hash: it was "
                "changed after it was written, or rewritten without the key."
            )
        else:
            self.breaks.append(
                f"Broken trail from {describe(first)} to event {last.pk} in {name}: the content of these {count} "
                "events does not match their keyed hashes: they were rewritten without the key."
            )

    def finish(self, heads):
        if self.unsealed:
            first, count = self.unsealed[0], len(self.unsealed)
            self.breaks.append(
                f"Broken trail at {describe(first)}: it and {count - 1} later event(s) have no key, and no "
                "\"key introduced\" event seals them: the seal was removed, or they were rewritten without the key."
                if count > 1 else
                f"Broken trail at {describe(first)}: it has no key, and no \"key introduced\" event seals it: the "
                "seal was removed, or it was rewritten without the key."
            )
        for number, chain in sorted(self.chains.items()):
            self.close_run(chain, f"chain {number}")
        for key_id, count in sorted(self.unknown_keys.items()):
            self.breaks.append(
                f"{count} audit event(s) were made with the key {key_id!r}, which AUDIT_KEYS does not hold: "
                "add that key (old keys stay listed after a rotation) to check them."
            )
        # Chains with a head but no event: one break per event their heads
        # name (the seal, after a migration, starts all of them at once).
        emptied = {}
        for number in sorted(set(heads) - set(self.chains)):
            if heads[number].last_hash != self.start:
                emptied.setdefault(heads[number].last_event_id, []).append(str(number))
        for event_id, numbers in emptied.items():
            self.breaks.append(
                f"Chain{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}: the head records event {event_id}, "
                "but the chain has no events: they were removed."
            )
        for number in sorted(self.chains):
            chain = self.chains[number]
            head = heads.get(number)
            if head is None:
                self.breaks.append(
                    f"Chain {number} has no head row (its last event is {chain.last_id}): the head was removed, "
                    "so events removed from the end of the chain could not be seen."
                )
            elif head.last_hash != chain.last_hash:
                self.breaks.append(
                    f"Broken link after audit event {chain.last_id or '(none)'} in chain {number}: the chain's "
                    f"head records a later event ({head.last_event_id}), so events were removed from the end."
                )

    def anchor(self):
        """The newest event of every keyed chain (or the seal), as ID:HASH items."""
        heads = [(chain.last_id, chain.last_hash) for _n, chain in sorted(self.chains.items()) if chain.last_id]
        if not heads and self.seal is not None:
            heads = [(self.seal.pk, self.seal.hash)]
        return ",".join(f"{pk}:{digest}" for pk, digest in heads)


class Command(BaseCommand):
    help = (
        "Checks that no audit event was changed, removed, reordered or back-dated: prints each break and "
        "exits 1, or prints how many events it verified and the anchor (the newest event of each chain) "
        "and exits 0. --anchor checks an anchor printed earlier."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor", action="append", default=[], metavar="ANCHOR",
            help="An anchor printed by an earlier run (EVENT:HASH items, comma-separated): each of its "
                 "events must still be there, unchanged, on an unbroken chain.",
        )

    def handle(self, *, anchor, **options):
        anchors = parse_anchors(anchor)
        try:
            walk, found = self.walk(anchors)
        except DatabaseError as error:
            self.stderr.write(f"Could not read the audit trail: {str(error).strip()}")
            raise SystemExit(1) from None
        for item, digest in anchors.items():
            if item not in found:
                walk.breaks.append(
                    f"The anchor's event {item} is not in the audit trail: it was removed since the anchor was taken."
                )
            elif found[item] != digest:
                walk.breaks.append(
                    f"The anchor's event {item} no longer has the hash the anchor recorded: it was rewritten "
                    "since the anchor was taken."
                )
        if walk.breaks:
            for message in walk.breaks:
                self.stderr.write(message)
            self.stderr.write(f"{len(walk.breaks)} break(s) in {walk.count} audit events.")
            raise SystemExit(1)
        chains = len(walk.chains)
        self.stdout.write(
            f"{walk.count} audit events verified in {chains} chain{'s' if chains != 1 else ''}: "
            "the trail is unbroken."
        )
        if anchors:
            self.stdout.write(f"The anchor's {len(anchors)} event(s) are still there, unchanged.")
        if anchor_now := walk.anchor():
            self.stdout.write(f"Anchor: {anchor_now}")

    def walk(self, anchors):
        seal = AuditEvent.objects.filter(action=AuditAction.KEY_INTRODUCED, chain__isnull=True).order_by("id").first()
        walk, found = Walk(seal), {}
        for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
            walk.event(event)
            if event.pk in anchors:
                found[event.pk] = event.hash
        heads = {head.chain: head for head in AuditChainHead.objects.filter(chain__isnull=False)}
        walk.finish(heads)
        return walk, found
