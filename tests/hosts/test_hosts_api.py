"""Hosts over the API against real sshd test hosts: add (key pinned, login proven, facts),
list, info, remove; bad input changes nothing; a changed host key is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from roost.hosts import keys
from roost.store.models.hosts import Host
from tests.hosts.sshhosts import TestHost


def _add(api: Any, host: TestHost, name: str, key: Path | None, **extra: Any) -> Any:
    body = {"name": name, "url": f"ssh://root@{host.address}",
            "host_key": keys.scan(host.address, host.port).fingerprint,
            "private_key": key.read_text() if key else None, **extra}
    return api.post("/api/v1/hosts", json=body)


def _names(api: Any) -> list[str]:
    return [h["name"] for h in api.get("/api/v1/hosts").json()]


def test_add_list_info_remove(api: Any, platform: Any, make_host: Callable[..., TestHost],
                              ssh_key: tuple[Path, str]) -> None:
    host = make_host()
    scanned = api.post("/api/v1/hosts/scan", json={"url": f"ssh://root@{host.address}"}).json()
    assert scanned["type"] == "ssh-ed25519" and scanned["fingerprint"].startswith("SHA256:")
    added = _add(api, host, "web1", ssh_key[0], roles=["app", "db"])
    assert added.status_code == 201, added.text
    data = added.json()
    assert data["fingerprint"] == scanned["fingerprint"] and data["key"] == "own"
    assert "private_key" not in data
    facts = data["facts"]
    assert facts["os"] == "Linux" and facts["cpus"] >= 1 and facts["memory_mb"] > 0
    assert [d["mount"] for d in facts["disks"]] == ["/"]
    assert any(p.startswith("openssh-server=") for p in facts["packages"])
    assert abs(facts["clock_offset_s"]) < 5
    assert _names(api) == ["web1"]
    # The private key is stored encrypted, never in clear.
    with platform.sessions.begin() as session:
        row = session.scalar(select(Host))
        assert row.private_key_encrypted is not None
        assert b"PRIVATE KEY" not in row.private_key_encrypted
        assert platform.cipher.decrypt(row.private_key_encrypted) == ssh_key[0].read_text()
    host.run("touch /var/run/reboot-required")
    info = api.get("/api/v1/hosts/web1", params={"refresh": "true"}).json()
    assert info["facts"]["reboot_required"] is True and info["reachable"] is True
    again = _add(api, host, "web1", ssh_key[0])
    assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]
    assert api.delete("/api/v1/hosts/web1").json() == {"removed": "web1"}
    assert _names(api) == []
    assert api.get("/api/v1/hosts/web1").status_code == 404


def test_bad_input_stores_nothing(api: Any, make_host: Callable[..., TestHost],
                                  ssh_key: tuple[Path, str], tmp_path: Path) -> None:
    host = make_host()
    url = f"ssh://root@{host.address}"
    right = keys.scan(host.address, host.port).fingerprint

    def add(**body: Any) -> tuple[int, str]:
        answer = api.post("/api/v1/hosts", json={"name": "web1", "url": url,
                                                 "host_key": right, **body})
        return answer.status_code, answer.json()["error"]["message"]

    status, message = add(url="root@10.0.0.1")
    assert status == 422 and "ssh://USER@HOST" in message
    for metadata in ("ssh://root@169.254.169.254", "ssh://root@metadata.google.internal"):
        status, message = add(url=metadata)
        assert status == 422 and "link-local or cloud metadata" in message or \
            "cloud metadata service" in message, message
        scanned = api.post("/api/v1/hosts/scan", json={"url": metadata})
        assert scanned.status_code == 422, scanned.text
    status, message = add(host_key="SHA256:" + "A" * 43)
    assert status == 409 and "not the SHA256:AAAA" in message
    status, message = add(private_key="not a key")
    assert status == 422 and "not an SSH private key" in message
    other = tmp_path / "other"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    status, message = add(private_key=other.read_text())  # not authorized there
    assert status == 422 and "cannot log in to web1" in message
    status, message = add(roles=["all"], private_key=ssh_key[0].read_text())
    assert status == 422 and "role 'all'" in message
    status, message = add(apps=["nope"], private_key=ssh_key[0].read_text())
    assert status == 404
    host.stop_sshd()
    status, message = add(private_key=ssh_key[0].read_text())
    assert status == 422 and f"cannot reach {host.address}:22 over SSH" in message
    assert _names(api) == []
    # Without --key Roost logs in with its own key, and says which key to authorize.
    host.start_sshd()
    status, message = add()
    assert status == 422 and "add Roost's key to its authorized_keys: ssh-ed25519 " in message
    assert _names(api) == []


def test_a_changed_host_key_is_refused(local_platform: Any, make_host: Callable[..., TestHost],
                                       ssh_key: tuple[Path, str]) -> None:
    from roost.errors import Conflict, InvalidInput
    from roost.orchestration import hostflow

    host = make_host()
    pinned = keys.scan(host.address, host.port).fingerprint
    hostflow.add(local_platform, "t", "web1", f"ssh://root@{host.address}", pinned, [],
                 ssh_key[0].read_text())
    host.rekey()  # the machine now shows another key (rebuilt, or someone in between)
    [row] = hostflow.refresh(local_platform)
    assert not row.reachable
    assert row.last_error.startswith(f"host key of web1 changed: it is no longer {pinned}; "
                                     "refused")
    out = hostflow.plan(local_platform, "web1")
    assert out["web1"]["failed"] and out["web1"]["error"].startswith("host key of web1 changed")
    with pytest.raises(Conflict, match="not the"):
        hostflow.add(local_platform, "t", "web2", f"ssh://root@{host.address}", pinned, [],
                     ssh_key[0].read_text())
    assert [r.name for r in hostflow.list_all(local_platform)] == ["web1"]

    # The machine was rebuilt: its new key is pinned once checked, and only that key.
    new = keys.scan(host.address, host.port).fingerprint
    assert new != pinned
    with pytest.raises(Conflict, match="not the"):
        hostflow.rekey(local_platform, "web1", "SHA256:" + "A" * 43)
    with pytest.raises(InvalidInput, match="already has the host key"):
        hostflow.rekey(local_platform, "web1", pinned)
    assert hostflow.get(local_platform, "web1").fingerprint == pinned  # nothing stored
    assert hostflow.rekey(local_platform, "web1", new).fingerprint == new
    [row] = hostflow.refresh(local_platform)
    assert row.reachable and row.fingerprint == new
    assert not hostflow.plan(local_platform, "web1")["web1"].get("failed")
