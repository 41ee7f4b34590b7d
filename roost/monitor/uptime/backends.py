"""Probe backends: in-process for `roost up`, over HTTP for a remote `roost probe`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import RoostError, Unauthorized
from roost.monitor.uptime import engine
from roost.monitor.uptime.specs import (
    CLAIM_PATH,
    RESULTS_PATH,
    Claim,
    MonitorSpec,
    ProbeResult,
    ReportIn,
    ReportOut,
)


class LocalBackend:
    """The control plane's own probe: calls the engine directly, in a worker thread."""

    def __init__(
        self, factory: sessionmaker[Session], name: str = "local",
        cfg: engine.EngineConfig | None = None,
    ) -> None:
        self.factory, self.name, self.cfg = factory, name, cfg or engine.EngineConfig()

    def _claim(self) -> Claim:
        return engine.claim(self.factory, self.name, self.cfg)

    def _report(self, results: list[ProbeResult]) -> list[MonitorSpec]:
        return engine.report(self.factory, self.name, results, self.cfg)

    async def claim(self) -> Claim:
        """This probe's share."""
        return await asyncio.to_thread(self._claim)

    async def report(self, results: list[ProbeResult]) -> list[MonitorSpec]:
        """Digest results; returns re-checks."""
        return await asyncio.to_thread(self._report, results)


class HttpBackend:
    """A remote probe's link to the control plane's probe endpoints."""

    def __init__(self, client: httpx.AsyncClient, api_url: str, name: str, token: str) -> None:
        self.client, self.name = client, name
        self.base = api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        url = self.base + path.format(name=self.name)
        try:
            resp = await self.client.post(url, json=body, headers=self.headers)
        except httpx.HTTPError as exc:
            raise RoostError(f"cannot reach {self.base}: {exc}") from exc
        if resp.status_code == 401:
            raise Unauthorized(f"{self.base} refused the probe token")
        if resp.status_code >= 400:
            raise RoostError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    async def claim(self) -> Claim:
        """This probe's share."""
        return Claim.model_validate(await self._post(CLAIM_PATH, {}))

    async def report(self, results: list[ProbeResult]) -> list[MonitorSpec]:
        """Send results; returns re-checks."""
        body = ReportIn(results=results).model_dump(mode="json")
        return ReportOut.model_validate(await self._post(RESULTS_PATH, body)).verify
