"""Which Host and Origin values name this box (against DNS rebinding and cross-site requests).

A DNS-rebinding page reaches the box under the attacker's own name (Host: evil.example), so only
names the owner uses are served: the box's host names, its `.local` name, localhost, the address
the request arrived on, and `web.allowed_hosts` (an entry starting with a dot also allows its
subdomains, as in Django). Ports are not compared: the server answers on one port only.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


def split_host(value: str) -> str:
    """'Name:8080' -> 'name', '[::1]:8080' -> '::1'; lower case, no trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def box_names() -> set[str]:
    """The names this machine answers to: its host name, fully qualified name and mDNS name."""
    names = {"localhost", "localhost.localdomain"}
    for name in (socket.gethostname(), socket.getfqdn()):
        name = name.strip().lower().rstrip(".")
        if name:
            names.add(name)
            short = name.split(".", 1)[0]
            names |= {short, f"{short}.local"}
    return names


class HostPolicy:
    def __init__(self, allowed: Iterable[str] = (), names: Iterable[str] | None = None) -> None:
        entries = [entry.strip().lower().rstrip(".") for entry in allowed if entry.strip()]
        self.suffixes = tuple(entry for entry in entries if entry.startswith("."))
        self.names = set(box_names() if names is None else names) | {e for e in entries if not e.startswith(".")}

    def allows(self, host: str, local_address: str | None = None) -> bool:
        """Whether a Host header value (or an Origin's host) names this box."""
        name = split_host(host)
        if not name:
            return False
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return name in self.names or any(name.endswith(s) or name == s[1:] for s in self.suffixes)
        if address.is_loopback or name in self.names:
            return True
        if local_address is None:
            return False
        try:  # the address the connection arrived on is the box's own
            local = ipaddress.ip_address(local_address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(local, ipaddress.IPv6Address) and local.ipv4_mapped is not None:
            local = local.ipv4_mapped
        return address == local

    def allows_origin(self, origin: str, local_address: str | None = None) -> bool:
        """An Origin header ('http://moodbox.local:8080'); 'null' (sandboxed or file pages) is refused."""
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        return self.allows(parts.netloc.rsplit("@", 1)[-1], local_address)
