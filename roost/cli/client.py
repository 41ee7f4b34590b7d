"""The CLI's HTTP client of the control plane API; every failure becomes one clear line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost import credentials

if TYPE_CHECKING:
    import httpx  # imported where a request is made: commands that need no server start faster


class CliError(Exception):
    """A failure the CLI reports as one line and a non-zero exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _target() -> credentials.Credentials:
    creds = credentials.resolve()
    if creds is None:
        raise CliError(
            "no Roost server configured: start one with `roost up` (or `make up`), "
            "or point the CLI at one with `roost login URL --token T`"
        )
    return creds


class Client:
    """Sends authenticated requests to the API and decodes its answers."""

    def __init__(self, creds: credentials.Credentials | None = None, timeout: float = 30.0):
        import httpx

        self.creds = creds or _target()
        self.http = httpx.Client(
            base_url=self.creds.url,
            headers={"Authorization": f"Bearer {self.creds.token}"} if self.creds.token else {},
            timeout=timeout,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to ``/api/v1`` + ``path``; return decoded JSON or raise CliError."""
        response = self.send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return the response, raising CliError on error statuses."""
        import httpx

        try:
            response = self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"cannot reach Roost at {self.creds.url} ({exc.__class__.__name__}): "
                "is `roost up` running? (`roost status` checks)"
            ) from exc
        if response.status_code >= 400:
            raise CliError(error_message(response))
        return response

    def stream(self, method: str, path: str, **kwargs: Any) -> Any:
        """A streaming request context (for logs and build output)."""
        return self.http.stream(method, "/api/v1" + path, **kwargs)


def error_message(response: httpx.Response) -> str:
    """The API's one-line error message, or a description of the status."""
    try:
        err = response.json()["error"]
        return str(err["message"])
    except (ValueError, KeyError, TypeError):
        return f"server answered {response.status_code} {response.reason_phrase}"
