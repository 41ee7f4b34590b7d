"""GET/PUT /apps/{app}/limits: per-type limits stored with the app, refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def test_limits_default_then_set_per_type(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    shown = api.get("/api/v1/apps/web/limits").json()
    assert shown["defaults"] == {"memory": "512M", "cpu": 1.0, "pids": 512}
    assert shown["limits"] == {}  # no release yet, no types
    r = api.put("/api/v1/apps/web/limits", json={"type": "worker", "memory": "1.5G", "cpu": 2})
    assert r.status_code == 200
    assert r.json()["limits"]["worker"] == {"memory": "1536M", "cpu": 2.0, "pids": 512}
    api.put("/api/v1/apps/web/limits", json={"type": "worker", "pids": "64"})
    assert api.get("/api/v1/apps/web/limits").json()["limits"]["worker"] == {
        "memory": "1536M", "cpu": 2.0, "pids": 64}


@pytest.mark.parametrize(("body", "says"), [
    ({"type": "web"}, "at least one"),
    ({"type": "web", "memory": "lots"}, "give a size"),
    ({"type": "web", "memory": "1K"}, "minimum"),
    ({"type": "web", "cpu": -1}, "number of CPUs"),
    ({"type": "web", "pids": 1}, "whole number"),
    ({"type": "Web Server", "cpu": 1}, "not a process type"),
    ({"type": "web", "disk": "1G"}, ""),
])
def test_bad_limits_are_4xx_and_change_nothing(api: TestClient, body: dict[str, Any],
                                               says: str) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    r = api.put("/api/v1/apps/web/limits", json=body)
    assert 400 <= r.status_code < 500 and says in r.json()["error"]["message"]
    assert api.get("/api/v1/apps/web/limits").json()["limits"] == {}
    assert api.put("/api/v1/apps/nope/limits", json={"type": "web", "cpu": 1}
                   ).status_code == 404
