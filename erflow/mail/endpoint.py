"""A mail server's address from ERFLOW_<SERVICE>_* variables (SMTP out, IMAP in): host, TLS mode,
port and an extra CA to trust, each checked with one line naming the variable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from erflow.core.errors import UsageError
from erflow.mail.message import WHITESPACE

if TYPE_CHECKING:
    import ssl


def endpoint(
    env: Mapping[str, str], service: str, modes: tuple[str, ...], ports: Mapping[str, int]
) -> tuple[str, str, int] | None:
    """Host, TLS mode (``modes[0]`` when unset) and port (``ports`` by mode when unset); None
    without ERFLOW_<service>_HOST."""
    name = f"ERFLOW_{service}"
    host = env.get(f"{name}_HOST", "").strip()
    if not host:
        return None
    if WHITESPACE.search(host):
        raise UsageError(f"{name}_HOST is not a host name: {host!r}")
    tls = env.get(f"{name}_TLS", "").strip().lower() or modes[0]
    if tls not in modes:
        raise UsageError(f"{name}_TLS must be {', '.join(modes[:-1])} or {modes[-1]}, not {tls!r}")
    raw_port = env.get(f"{name}_PORT", "").strip()
    port = ports[tls]
    if raw_port:
        port = int(raw_port) if raw_port.isdecimal() else 0
        if not 0 < port < 65536:
            raise UsageError(f"{name}_PORT must be a port number, not {raw_port!r}")
    return host, tls, port


def cafile(env: Mapping[str, str], service: str) -> str | None:
    """ERFLOW_<service>_CAFILE: a file of CA certificates to trust besides the system's."""
    found = env.get(f"ERFLOW_{service}_CAFILE") or None
    if found is not None and not Path(found).is_file():
        raise UsageError(f"ERFLOW_{service}_CAFILE is not a file: {found!r}")
    return found


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """The system's trusted CAs, plus the ERFLOW_<service>_CAFILE given; certificates are verified."""
    import ssl

    context = ssl.create_default_context()
    if cafile is not None:
        context.load_verify_locations(cafile=cafile)
    return context
