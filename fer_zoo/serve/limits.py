"""What one request may carry, and who may be served: the upload limits, the refusals that name them, the
binding rule (loopback unless a token or --insecure says otherwise) and the bearer-token check."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from fer_zoo import values
from fer_zoo.errors import FerZooError

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Limits:
    """Per-request bounds; each one's name is what a refusal's JSON says in ``limit``."""

    max_bytes: int = 20_000_000  # the request body: a photo or several
    max_pixels: int = 40_000_000  # per image, read from its header before decoding
    max_images: int = 16  # per request
    max_faces: int = 32  # per image, after detection

    def checked(self) -> Limits:
        for name in ("max_bytes", "max_pixels", "max_images", "max_faces"):
            values.integer(getattr(self, name), f"--{name.replace('_', '-')}", 1, None)
        return self

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Refused(Exception):
    """A request the server will not serve: its HTTP status, the limit it broke (None: no limit, a bad
    upload) and one line saying why."""

    def __init__(self, status: int, message: str, limit: str | None = None, value: int | None = None):
        super().__init__(message)
        self.status, self.message, self.limit, self.value = status, message, limit, value

    def as_dict(self) -> dict:
        body = {"error": self.message}
        if self.limit is not None:
            body["limit"] = self.limit
            body["value"] = self.value
        return body


def over(limit: str, value: int, what: str, status: int = 413) -> Refused:
    """The refusal of a request that carries more than ``limit`` (``value``) allows."""
    return Refused(status, f"{what} is over the server's {limit} of {value:,} (fer-zoo serve "
                           f"--{limit.replace('_', '-')})", limit, value)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None, insecure: bool) -> None:
    """Binding beyond this machine needs a token, or --insecure saying an open server is meant."""
    if token is not None and not token.strip():
        raise FerZooError("--token: an empty token would let anyone in; give a long random string")
    if not is_loopback(host) and token is None and not insecure:
        raise FerZooError(f"--host {host}: other machines could reach this server; give --token TOKEN (each /v1 "
                          f"call then needs 'Authorization: Bearer TOKEN') or --insecure to serve anyone")


def authorised(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
