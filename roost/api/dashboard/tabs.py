"""The frame of an app's page: its tabs (add-ons' panels appear as tabs of their own) and
rendering a tab for the viewer."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.api.dashboard.web import Viewer, flash, render
from roost.core import apps
from roost.store.models.addons import AddonAttachment

TABS = [("overview", "Overview", ""), ("releases", "Releases", "/releases"),
        ("processes", "Processes", "/processes"), ("config", "Config", "/config"),
        ("logs", "Logs", "/logs"), ("builds", "Builds", "/builds"), ("perf", "Perf", "/perf"),
        ("vulns", "Vulnerabilities", "/vulns"), ("uptime", "Uptime", "/uptime")]


def tabs_of(session: Session, app: str) -> list[tuple[str, str, str]]:
    """(key, label, URL) of each tab of ``app``'s page, one per attached add-on at the end."""
    app_id = apps.get(session, app).id
    kinds = session.scalars(select(AddonAttachment.kind)
                            .where(AddonAttachment.app_id == app_id)
                            .order_by(AddonAttachment.kind))
    return [*((key, label, f"/apps/{app}{path}") for key, label, path in TABS),
            *((f"addon:{k}", k, f"/apps/{app}/mail" if k == "email"
               else f"/apps/{app}/addons/{k}") for k in kinds)]


def tab_page(request: Request, session: Session, who: Viewer, app: str, tab: str,
             template: str, data: dict[str, Any]) -> HTMLResponse:
    """Render one tab of ``app``'s page (refused with NotFound when the app does not exist)."""
    tabs = tabs_of(session, app)
    titles = {key: label for key, label, _ in tabs}
    base = {"logged_in": True, "viewer": who, "app": app, "tab": tab,
            "title": titles.get(tab, tab), "tabs": tabs,
            **flash(request, who)}
    return render(request, template, {**base, **data})
