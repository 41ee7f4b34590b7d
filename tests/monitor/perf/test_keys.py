"""The ingest-key cache: least recently used valid keys go first, unknown keys apart."""

from __future__ import annotations

import asyncio

from roost.monitor.perf.keys import IngestKeys

APPS = {f"rik_{i}": f"app{i}" for i in range(5)}


def test_least_recently_used_valid_key_is_evicted() -> None:
    lookups: list[str] = []

    def resolve(key: str) -> str | None:
        lookups.append(key)
        return APPS.get(key)

    keys = IngestKeys(resolve, size=3, invalid_size=2)

    async def use(*names: str) -> list[str | None]:
        return [await keys.app_for(name) for name in names]

    assert asyncio.run(use("rik_0", "rik_1", "rik_2", "rik_0", "rik_3")) == [
        "app0", "app1", "app2", "app0", "app3"]
    assert lookups == ["rik_0", "rik_1", "rik_2", "rik_3"]  # the second rik_0 was a hit
    # rik_1 was the least recently used: it went; rik_0, used again, stayed.
    assert [keys.cached(k) for k in ("rik_0", "rik_1", "rik_2", "rik_3")] == [
        "app0", None, "app2", "app3"]
    asyncio.run(use("bad1", "bad2", "bad3", "bad1"))
    assert keys.counts() == (3, 2)  # unknown keys never take a valid key's place
    keys.forget_app("app0")
    assert keys.cached("rik_0") is None and keys.counts() == (2, 0)
