"""Docker SDK calls of the swarm runtime, with the swarm's own error in one line."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from roost.errors import RoostError, RuntimeFailure

P = ParamSpec("P")
T = TypeVar("T")


def swarm_call(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn the Docker SDK's errors into one line with the swarm's own message."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        import docker.errors
        import requests

        try:
            return fn(*args, **kwargs)
        except RoostError:
            raise
        except docker.errors.APIError as exc:
            detail = exc.explanation or str(exc)
            raise RuntimeFailure(f"swarm manager error: {' '.join(str(detail).split())}") from exc
        except (requests.ConnectionError, docker.errors.DockerException) as exc:
            where = os.environ.get("DOCKER_HOST", "the default Docker socket")
            raise RuntimeFailure(f"swarm manager at {where} is unreachable: "
                                 f"{' '.join(str(exc).split())[:300]}") from exc
    return wrapper
