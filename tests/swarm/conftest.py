"""One real two-node swarm per session, and a `roost up` with ROOST_RUNTIME=swarm per module."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Server, home_for, start_server, stop_server
from tests.objectstore.conftest import moto_endpoint, new_bucket  # noqa: F401
from tests.swarm.cluster import Cluster, why_not

APP = Path(__file__).parent / "app"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A manager and a worker dockerd, each in a network namespace made here."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    found = Cluster()
    root = Path(tempfile.mkdtemp(prefix="rsw", dir="/tmp"))  # short: unix socket paths
    try:
        found.start(root, preload_workers=False)  # Roost loads its images (ROOST_SWARM_NODE_DOCKER)
        yield found
    finally:
        found.stop()
        shutil.rmtree(root, ignore_errors=True)


def swarm_env(cluster: Cluster, moto_endpoint: str,  # noqa: F811
              **settings: str) -> dict[str, str]:
    """The settings of a `roost up` whose apps run on the cluster, its objects in S3 (moto),
    its router on every node (``settings`` add to them or replace them)."""
    return {
        "ROOST_OBJECT_STORE": f"s3://{new_bucket(moto_endpoint)}/roost"
                              f"?endpoint_url={moto_endpoint}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ROOST_RUNTIME": "swarm", "DOCKER_HOST": cluster.manager.socket,
        "ROOST_SWARM_SLUG_LISTEN": f"{cluster.host_address}:{free_port()}",
        "ROOST_SWARM_NODE_DOCKER": cluster.node_docker,
        "ROOST_ROUTER_LISTEN": f"{cluster.manager.address}:{free_port()}",
        "ROOST_ROUTER_TLS_LISTEN": f"{cluster.manager.address}:{free_port()}",
        "ROOST_TLS_ISSUER": "internal",  # certificates from Caddy's own CA, on this host
        "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "ROOST_BASE_DOMAIN": "roost.test", "ROOST_GRACE_SECONDS": "5", **settings}


@contextmanager
def swarm_roost(cluster: Cluster, tmp: Path, env: dict[str, str]) -> Iterator[Server]:
    """`roost up` with ``env`` (``swarm_env``), stopped and its home removed afterwards."""
    srv = start_server(tmp, env, timeout=180)  # a busy 2-core machine makes dockerd slow
    srv.env["DOCKER_HOST"] = cluster.manager.socket
    try:
        yield srv
    finally:
        stop_server(srv)
        shutil.rmtree(home_for(tmp).parent, ignore_errors=True)


@pytest.fixture(scope="module")
def swarm_server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
                 moto_endpoint: str) -> Iterator[Server]:  # noqa: F811
    """`roost up` whose apps run on the cluster; its router answers on every node. Its
    objects (slugs, build caches, assets) are in S3 (moto), as with several hosts."""
    with swarm_roost(cluster, tmp_path_factory.mktemp("swarm"),
                     swarm_env(cluster, moto_endpoint)) as srv:
        yield srv
