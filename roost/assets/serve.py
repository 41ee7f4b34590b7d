"""Where apps find their assets: the asset host's URL, and the Caddy routes that serve it.

With the embedded ``file://`` store the router serves ``http://assets.<base domain>/<app>/…``
straight from the store's directory (``assets/<app>/…`` keys), picking the ``.br`` or ``.gz``
sidecar from ``Accept-Encoding`` with Caddy's ``precompressed`` option. With ``s3://`` the
URL is the bucket's own, or ``ROOST_ASSET_URL`` (a CDN serving the bucket's ``assets/``
prefix, so ``<asset_url>/<app>/…`` has the same shape as the asset host).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from roost.assets.manifest import MANIFESTS_DIR, app_prefix
from roost.assets.names import FIXED_TYPES, FONT_EXTS, IMMUTABLE, REVALIDATE
from roost.assets.source import check_app_name
from roost.objectstore import open_store

OK_STATUSES = [200, 206, 304]
# An app name (core/validate.py) as the first path segment: nothing else can name a directory.
_APP_SEGMENT = r"^/([a-z][a-z0-9-]{0,29})/"


def asset_host(base_domain: str) -> str:
    """The host name the router serves assets on."""
    return f"assets.{base_domain}"


def asset_base_url(
    app: str,
    *,
    object_store: str,
    asset_url: str = "",
    base_domain: str = "localhost",
    router_listen: str = "127.0.0.1:8080",
    scheme: str = "http",
) -> str:
    """The URL under which ``app``'s asset keys are public (ends with ``/``); the app's
    ``ASSET_HOST``. Takes the settings' ``object_store``, ``asset_url``, ``base_domain``
    and ``router_listen``.
    """
    check_app_name(app)
    if asset_url:
        return f"{asset_url.rstrip('/')}/{app}/"
    if urlsplit(object_store).scheme == "s3":
        store = open_store(object_store)
        try:
            probe = app_prefix(app) + "x"
            return store.url(probe)[:-1]
        finally:
            store.close()
    port = router_listen.rpartition(":")[2]
    default = {"http": "80", "https": "443"}.get(scheme)
    netloc = asset_host(base_domain) + ("" if port == default else f":{port}")
    return f"{scheme}://{netloc}/{app}/"


def _headers(set_: dict[str, list[str]], deferred: bool = True) -> dict[str, Any]:
    response: dict[str, Any] = {"set": set_}
    if deferred:  # only on a served file: a 404 must not be cached for a year
        response["require"] = {"status_code": OK_STATUSES}
    return {"handler": "headers", "response": response}


def _type_routes() -> list[dict[str, Any]]:
    by_type: dict[str, list[str]] = defaultdict(list)
    for ext, ctype in FIXED_TYPES.items():
        by_type[ctype].append("*" + ext)
    return [{"match": [{"path": sorted(exts)}],
             "handle": [_headers({"Content-Type": [ctype]})]}
            for ctype, exts in sorted(by_type.items())]


ASSET_APP = "{http.regexp.asset.1}"  # the app named by the request's first path segment


def caddy_asset_routes(store_root: Path, *, base_domain: str, own_origins: list[str],
                       extra_origins: dict[str, list[str]] | None = None
                       ) -> list[dict[str, Any]]:
    """The Caddy routes serving every app's assets from a file store at ``store_root``.

    One route serves all apps, whichever exist: the app is the first path segment, so
    creating or deploying an app changes nothing here and never reloads the router (a
    reload re-binds the listener, and a connection waiting on the old one is dropped).
    ``own_origins`` are templates of an app's own origins (``http://{app}.localhost:8080``)
    that receive ``Access-Control-Allow-Origin``; ``extra_origins`` adds the origins of
    apps' custom domains; fonts get ``*``.
    """
    root = store_root.resolve()
    fonts = sorted("*" + ext for ext in FONT_EXTS)
    own = sorted({o.replace("{app}", ASSET_APP) for o in own_origins})
    routes: list[dict[str, Any]] = [
        # The file root is the app's own prefix: a cleaned path cannot leave it, so
        # another app's keys and the store's .roost-meta sidecars are out of reach.
        {"handle": [{"handler": "rewrite", "strip_path_prefix": f"/{ASSET_APP}"}]},
        {"match": [{"path": [f"/{MANIFESTS_DIR}/*"]}],
         "handle": [_headers({"Cache-Control": [REVALIDATE]})]},
        {"match": [{"not": [{"path": [f"/{MANIFESTS_DIR}/*"]}]}],
         "handle": [_headers({"Cache-Control": [IMMUTABLE]})]},
        {"handle": [_headers({"X-Content-Type-Options": ["nosniff"]}, deferred=False)]},
        *_type_routes(),
    ]
    allowed = [{"header": {"Origin": own}}] if own else []
    for app, origins in sorted((extra_origins or {}).items()):
        if origins:
            check_app_name(app)
            allowed.append({"vars": {ASSET_APP: [app]},
                            "header": {"Origin": sorted(set(origins))}})
    if allowed:  # several matcher sets: any one matching is enough
        routes.append({"match": allowed, "handle": [_headers({
            "Access-Control-Allow-Origin": ["{http.request.header.Origin}"],
            "Vary": ["Origin, Accept-Encoding"]})]})
    routes.append({"match": [{"path": fonts}],
                   "handle": [_headers({"Access-Control-Allow-Origin": ["*"]})]})
    routes.append({"handle": [{
        "handler": "file_server",
        "root": f"{root / 'assets'}/{ASSET_APP}",
        "hide": [str(root / ".roost-meta"), str(root / ".roost-tmp")],
        "precompressed": {"br": {}, "gzip": {}},
        "precompressed_order": ["br", "gzip"],
    }]})
    host = [asset_host(base_domain)]
    return [
        {"match": [{"host": host, "path_regexp": {"name": "asset", "pattern": _APP_SEGMENT}}],
         "handle": [{"handler": "subroute", "routes": routes}], "terminal": True},
        {"match": [{"host": host}],
         "handle": [{"handler": "static_response", "status_code": 404}], "terminal": True},
    ]
