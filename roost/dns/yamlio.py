"""A zone's records in octoDNS's YAML format (what its ``YamlProvider`` reads and writes).

Reading uses PyYAML's safe loader, not octoDNS's own, on purpose: octoDNS's loader follows
``!include`` tags to other files, and a file sent to the server must never make it read one
of its own. Each record then goes through octoDNS's validation (``Record.new``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml

from roost.dns.records import RecordData, from_record, new_zone
from roost.errors import InvalidInput

MAX_YAML_BYTES = 20 * 1024 * 1024


def dump(records: list[RecordData]) -> str:
    """The records as octoDNS YAML: ``name: {type, ttl, value(s)}`` ('' the apex), a list where
    a name has several types, names in octoDNS's natural order."""
    from octodns.yaml import safe_dump

    data: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.name, r.type)):
        data[r.name].append({"type": r.type, "ttl": r.ttl, **r.data})
    flat = {name: items[0] if len(items) == 1 else items for name, items in data.items()}
    from io import StringIO

    out = StringIO()
    safe_dump(flat, out)
    return out.getvalue()


def load(zone: str, text: str, source: str = "the file") -> list[RecordData]:
    """The records of an octoDNS YAML document for ``zone``; one line on the first problem."""
    from octodns.record import Record

    if len(text.encode()) > MAX_YAML_BYTES:
        raise InvalidInput(f"{source} is over {MAX_YAML_BYTES // 1024 // 1024} MB")
    try:
        # libyaml's safe loader where PyYAML has it (ten times faster), else the pure one.
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"cannot parse {source}{where}: {reason}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source} is not an octoDNS zone file: expect `name: {{type: …}}` "
                           "entries")
    found = new_zone(zone)
    for name, entries in doc.items():
        name = "" if name in (None, "@") else str(name)
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict) or "type" not in entry:
                raise InvalidInput(f"{source}: the entry for {name or '@'!r} needs a type")
            entry = {"ttl": 3600, **entry}
            try:
                found.add_record(Record.new(found, name, entry))
            except Exception as exc:  # octoDNS raises plain exceptions with its reasons
                reason = str(exc).splitlines()[0]
                raise InvalidInput(f"{source}: record {name or '@'} "
                                   f"{entry.get('type')}: {reason}") from exc
    return [from_record(r) for r in found.records]
