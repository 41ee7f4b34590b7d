"""Plan, then apply, with octoDNS: the zone's records against the provider's live ones.

The flow reads as octoDNS's ``Manager.sync`` does: mark what Roost owns (octoDNS's
``OwnershipProcessor``: an ``_owner.TYPE.name`` TXT record holding ``roost`` beside each
record), plan against the live zone, keep only changes to records Roost owns (so records
made by hand, ``_acme-challenge`` or a verification TXT, are never touched), check the
safety thresholds, apply. A plan may read only the names changed in Roost
(:mod:`roost.dns.scope`); its thresholds are then taken against the zone as last applied. A
provider error during apply is followed by a fresh read of the
live zone, which says which changes went through and which did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.dns.names import OWNERSHIP_PREFIX
from roost.dns.records import RecordData, new_zone, rdata, to_zone
from roost.errors import Conflict, RoostError

if TYPE_CHECKING:
    from roost.dns.scope import Scope

OWNER_VALUE = "roost"  # the value of Roost's ownership TXT records


class UnsafePlanError(Conflict):
    """A plan over the zone's safety thresholds (octoDNS's ``UnsafePlan``), not forced."""

    code = "unsafe_plan"


class ApplyError(RoostError):
    """The provider failed during apply; says which changes went through and which did not."""

    code = "dns_apply_failed"
    status = 502

    def __init__(self, message: str, applied: list[str], not_applied: list[str]) -> None:
        super().__init__(message)
        self.applied = applied
        self.not_applied = not_applied


class ProviderError(RoostError):
    """The provider could not be read or refused the request (its reason in one line)."""

    code = "dns_provider_failed"
    status = 502


def reason_of(exc: BaseException) -> str:
    """An exception's first line, short (a provider's message may be a whole page)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


@dataclass
class Change:
    """One change of a plan, as a person reads it."""

    action: str  # create | update | delete
    name: str
    type: str
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    old_ttl: int | None = None
    new_ttl: int | None = None

    @property
    def ownership(self) -> bool:
        """Whether this is one of Roost's ownership TXT records."""
        return self.type == "TXT" and self.name.startswith(OWNERSHIP_PREFIX)

    def line(self, zone: str) -> str:
        """``+ www.example.com A 1.2.3.4`` (create), ``~`` update, ``-`` delete."""
        fqdn = f"{self.name}.{zone}" if self.name else zone
        if self.action == "create":
            return f"+ {fqdn} {self.type} {' '.join(self.new)} (ttl {self.new_ttl})"
        if self.action == "delete":
            return f"- {fqdn} {self.type} {' '.join(self.old)}"
        ttl = f" (ttl {self.old_ttl} -> {self.new_ttl})" if self.old_ttl != self.new_ttl else ""
        return f"~ {fqdn} {self.type} {' '.join(self.old)} -> {' '.join(self.new)}{ttl}"

    def view(self, zone: str) -> dict[str, Any]:
        """The change for the API."""
        return {"action": self.action, "name": self.name or "@", "type": self.type,
                "old": self.old, "new": self.new, "old_ttl": self.old_ttl,
                "new_ttl": self.new_ttl, "ownership": self.ownership, "line": self.line(zone)}


@dataclass
class ZonePlan:
    """What applying a zone would change; ``unsafe`` names the threshold it passes, if any."""

    zone: str
    changes: list[Change]
    existing: int  # records in the live zone
    unsafe: str = ""
    octo: Any = None  # the octoDNS Plan (None: nothing to do)
    read: str = ""  # what was read live, when not the whole zone

    def view(self) -> dict[str, Any]:
        """The plan for the API."""
        counts = {a: sum(1 for c in self.changes if c.action == a and not c.ownership)
                  for a in ("create", "update", "delete")}
        return {"zone": self.zone, "changes": [c.view(self.zone) for c in self.changes],
                "counts": counts, "existing": self.existing, "unsafe": self.unsafe,
                "read": self.read}


def ownership() -> Any:
    """octoDNS's ownership processor with Roost's marker."""
    from octodns.processor.ownership import OwnershipProcessor

    return OwnershipProcessor("roost-ownership", txt_name=OWNERSHIP_PREFIX, txt_value=OWNER_VALUE)




def mark_owned(desired: Any, processor: Any) -> Any:
    """``desired`` with an ownership TXT record beside each record: what the processor's
    ``process_source_zone`` adds, built without validating each TXT record again (their
    names come from records already checked, their value is fixed), which is a good part
    of the cost of planning a large zone."""
    from octodns.record import Record

    txt = Record.registered_types()["TXT"]
    data = {"type": "TXT", "ttl": processor.txt_ttl, "value": processor.txt_value}
    for record in list(desired.records):
        if processor._is_ownership(record):
            continue
        name = record.name.replace("*", "_wildcard")
        label = (f"{processor.txt_name}.{record._type}.{name}" if record.name
                 else f"{processor.txt_name}.{record._type}")
        desired.add_record(txt(desired, label, dict(data)), lenient=True,
                           replace=processor.should_replace)
    return desired


def _change(octo: Any) -> Change:
    action = type(octo).__name__.lower()
    record = octo.record
    out = Change(action, record.name, record._type)
    if octo.existing is not None:
        out.old_ttl, out.old = rdata(octo.existing)
    if octo.new is not None:
        out.new_ttl, out.new = rdata(octo.new)
    return out


def plan(provider: Any, zone: str, desired: list[RecordData], scope: Scope | None = None
         ) -> ZonePlan:
    """Plan ``desired`` against the provider's live zone; only Roost's records change.

    With a ``scope``, only its names are read and planned (the provider reads only them)."""
    from octodns.processor.ownership import OwnershipException
    from octodns.provider.plan import UnsafePlan

    if scope is not None:
        desired = [r for r in desired if r.name in scope.names]
        provider.read_only(scope.fqdns(zone))
    processor = ownership()
    wanted = mark_owned(to_zone(zone, desired), processor)
    try:
        octo = provider.plan(wanted, processors=[processor])
        if octo is not None:
            octo = processor.process_plan(octo, sources=[], target=provider)
    except OwnershipException as exc:
        raise Conflict(f"{zone}: {str(exc).split(': ', 1)[-1]}") from exc
    except RoostError:
        raise
    except Exception as exc:  # botocore, requests, octoDNS: one line, translated here
        raise ProviderError(f"{zone}: the provider could not be read: {reason_of(exc)}") from exc
    read = scope.describe() if scope is not None else ""
    if octo is None:
        return ZonePlan(zone, [], scope.existing if scope is not None else 0, read=read)
    found = ZonePlan(zone, [_change(c) for c in octo.changes],
                     scope.existing if scope is not None else len(octo.existing.records),
                     octo=octo, read=read)
    try:
        if scope is None:
            octo.raise_if_unsafe()
        else:
            _raise_if_unsafe(octo, zone, scope.existing)
    except UnsafePlan as exc:
        found.unsafe = str(exc)
    return found


def _raise_if_unsafe(octo: Any, zone: str, existing: int) -> None:
    """octoDNS's thresholds (``Plan.raise_if_unsafe``) against ``existing`` records: the
    zone's count when the plan read only some of its names."""
    from octodns.provider.plan import Plan, TooMuchChange

    if existing < Plan.MIN_EXISTING_RECORDS:
        return
    for kind, threshold in (("Update", octo.update_pcent_threshold),
                            ("Delete", octo.delete_pcent_threshold)):
        share = octo.change_counts[kind] / existing
        if share > threshold:
            raise TooMuchChange(f"Too many {kind.lower()}s", share * 100, threshold * 100,
                                octo.change_counts[kind], existing, f"{zone}.")


def apply(provider: Any, found: ZonePlan, *, force: bool = False,
          fresh: Callable[[], Any] | None = None) -> int:
    """Apply a plan; refuse an unsafe one unless ``force``. Return the changes applied.

    ``fresh`` builds a new provider to read the live zone after a failure (a provider keeps
    what it read before)."""
    if found.octo is None:
        return 0
    if found.unsafe and not force:
        raise UnsafePlanError(f"{found.zone}: {found.unsafe.split('] ', 1)[-1]}: check `roost "
                              f"dns plan {found.zone}`, then apply with --force")
    try:
        provider.apply(found.octo)
    except Exception as exc:
        reason = reason_of(exc)
        applied, missing = _after_failure(fresh or (lambda: provider), found)
        raise ApplyError(f"{found.zone}: the provider failed during apply ({reason}); "
                         f"{len(applied)} of {len(found.changes)} changes applied, "
                         f"{len(missing)} not", applied, missing) from exc
    return len(found.changes)


def _after_failure(fresh: Callable[[], Any], found: ZonePlan) -> tuple[list[str], list[str]]:
    """Which of the plan's changes the live zone shows, and which it does not."""
    lines = [c.line(found.zone) for c in found.changes]
    try:
        live = new_zone(found.zone, trusted=True)
        fresh().populate(live, target=True, lenient=True)
    except Exception:  # the provider is down: nothing can be said to have gone through
        return [], [f"{line} (unknown: the provider could not be read)" for line in lines]
    now = {(r.name, r._type): rdata(r) for r in live.records}
    applied: list[str] = []
    missing: list[str] = []
    for change, line in zip(found.changes, lines, strict=True):
        state = now.get((change.name, change.type))
        if change.action == "delete":
            done = state is None
        else:
            done = state is not None and state == (change.new_ttl, change.new)
        (applied if done else missing).append(line)
    return applied, missing
