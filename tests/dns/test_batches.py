"""Route53's change-batch limits: 1,000 records and 32,000 characters, UPSERTs twice."""

from __future__ import annotations

from typing import Any

import pytest

from roost.dns.route53 import split


def mod(action: str, name: str, *values: str, kind: str = "TXT") -> dict[str, Any]:
    return {"Action": action, "ResourceRecordSet": {
        "Name": name, "Type": kind, "TTL": 300,
        "ResourceRecords": [{"Value": v} for v in values]}}


@pytest.mark.parametrize(("mods", "sizes"), [
    ([mod("CREATE", f"r{i}.", "x") for i in range(10)], [10]),
    ([mod("CREATE", f"r{i}.", "x") for i in range(1500)], [1000, 500]),
    ([mod("UPSERT", f"r{i}.", "x") for i in range(600)], [500, 100]),  # an UPSERT counts twice
    ([mod("CREATE", f"r{i}.", "x" * 1000) for i in range(40)], [32, 8]),  # 32,000 characters
    ([mod("UPSERT", f"r{i}.", "x" * 1000) for i in range(20)], [16, 4]),
])
def test_batches_are_split_at_route53s_limits(mods: list[dict[str, Any]], sizes: list[int]
                                               ) -> None:
    assert [len(piece) for piece in split(mods)] == sizes


def test_a_record_sets_changes_stay_in_one_batch() -> None:
    """The DELETE and CREATE of one record set (a type change of octoDNS's update) are never
    in two requests, where Route53 would serve neither in between."""
    mods = [mod("CREATE", f"r{i}.", "x" * 900) for i in range(35)]
    mods.insert(34, mod("DELETE", "r35.", "y" * 900))
    mods.append(mod("CREATE", "r35.", "z" * 900))
    pieces = split(mods)
    holding = [i for i, piece in enumerate(pieces)
               if any(m["ResourceRecordSet"]["Name"] == "r35." for m in piece)]
    assert len(holding) == 1
    for piece in pieces:
        chars = sum(len(v["Value"]) for m in piece
                    for v in m["ResourceRecordSet"]["ResourceRecords"])
        assert chars <= 32_000
