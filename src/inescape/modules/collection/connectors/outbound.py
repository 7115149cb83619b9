"""Where collection may connect: the outbound allow-list (``INESCAPE_COLLECTION_ALLOWED_HOSTS``).

By default a connector reaches public hosts over https only. An address that is not public
(loopback, link-local such as a cloud's metadata service, private, reserved, multicast) is
refused unless an entry allows it; plain http is refused unless an entry marks its host with
``http://``. Entries, comma-separated:

- a host name or pattern: ``fhir.hospital.example``, ``*.hospital.example``. Once any name
  is listed, only listed names are reached (IP addresses in URLs only within a listed network);
- an address or network: ``10.20.0.0/16``, ``127.0.0.1``: non-public addresses inside it may
  be reached (by any allowed name);
- either, prefixed ``http://`` (``http://127.0.0.1``, ``http://ehr.lan``): plain http is also
  allowed there; an administrator marks a source insecure this way, never a request.

The check runs on the resolved addresses, not the name (a public-looking name that resolves
to 127.0.0.1 is refused), when a job is submitted and again before every request a connector
sends, redirects and token requests included; the request then goes to the address that was
checked, so a name that resolves differently a moment later cannot move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from inescape.kernel.errors import ConfigurationError, Invalid

SETTING = "INESCAPE_COLLECTION_ALLOWED_HOSTS"
RESOLVE_AT_SUBMISSION_S = 2.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(Invalid):
    """A URL collection must not reach: a 422 at submission, a failed job (not retried) later."""


@dataclass(frozen=True, slots=True)
class Rule:
    insecure: bool  # plain http allowed too
    host: str | None = None  # a lower-case name, or a ``*.`` pattern
    network: Network | None = None

    def names(self, host: str) -> bool:
        return self.host is not None and fnmatch.fnmatchcase(host, self.host)

    def holds(self, address: Address) -> bool:
        return (
            self.network is not None and address.version == self.network.version and address in self.network
        )


def parse_rule(entry: str) -> Rule:
    raw = entry.strip()
    insecure = raw.lower().startswith("http://")
    body = raw[len("http://") :] if insecure else raw
    body = body.removeprefix("https://").strip().rstrip("/").lower()
    try:
        return Rule(insecure=insecure, network=ipaddress.ip_network(body.strip("[]"), strict=False))
    except ValueError:
        pass
    label = body.removeprefix("*.")
    if not label or any(c in label for c in "/:@ *?[]") or label.startswith(".") or label.endswith("."):
        raise ConfigurationError(
            SETTING, f"{entry!r} is neither a host name (or *.pattern) nor an address or CIDR network"
        )
    return Rule(insecure=insecure, host=body)


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def kind_of(address: Address) -> str | None:
    """What makes an address not public (None: it is public)."""
    address = _plain(address)
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-public"


class Outbound:
    """The allow-list, checked against URLs and the addresses their hosts resolve to."""

    def __init__(self, entries: Sequence[str] = ()) -> None:
        self.rules = tuple(parse_rule(e) for e in entries if e.strip())
        self._named = any(r.host is not None for r in self.rules)

    # --- the checks ---------------------------------------------------------------------
    def check_name(self, url: httpx.URL) -> Address | None:
        """The scheme and host name alone (no lookup); the host's address when it is one."""
        if url.scheme not in ("http", "https"):
            raise self._refused(url, f"{url.scheme or 'no'} scheme; only https (or http where allowed)")
        if not url.host:
            raise self._refused(url, "no host")
        literal = _literal(url.host)
        if self._named:
            if literal is None and not any(r.names(url.host) for r in self.rules):
                raise self._refused(url, f"the host {url.host} is not listed")
            if literal is not None and not any(r.holds(_plain(literal)) for r in self.rules):
                raise self._refused(url, f"the address {url.host} is not in a listed network")
        return literal

    def check_addresses(self, url: httpx.URL, addresses: Sequence[Address]) -> None:
        """Every address the host resolves to is public or inside a listed network; plain
        http only where an ``http://`` entry names the host or holds every address."""
        for address in addresses:
            kind = kind_of(address)
            if kind is not None and not any(r.holds(_plain(address)) for r in self.rules):
                raise self._refused(
                    url, f"{url.host} resolves to {address}, a {kind} address, and no listed network holds it"
                )
        if url.scheme == "http" and not self._insecure_ok(url.host, addresses):
            raise self._refused(
                url,
                "plain http sends the request (and any token) unencrypted: use https, or have an "
                f"administrator allow http for this host with an http:// entry (http://{url.host})",
            )

    def _insecure_ok(self, host: str, addresses: Sequence[Address]) -> bool:
        insecure = [r for r in self.rules if r.insecure]
        if any(r.names(host) for r in insecure):
            return True
        return bool(addresses) and all(any(r.holds(_plain(a)) for r in insecure) for a in addresses)

    async def resolve(self, url: httpx.URL) -> list[Address]:
        literal = self.check_name(url)
        if literal is not None:
            return [literal]
        port = url.port or (443 if url.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
        found: list[Address] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address not in found:
                found.append(address)
        return found

    async def check(self, url: httpx.URL) -> Address:
        """Before a request: the address to send it to, checked (``OutboundRefused`` if none may be)."""
        try:
            addresses = await self.resolve(url)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}: {exc}") from None
        if not addresses:
            raise httpx.ConnectError(f"{url.host} resolves to no address")
        self.check_addresses(url, addresses)
        return addresses[0]

    async def check_submitted(self, url: str, field: str) -> None:
        """At submission: refuse what the job would be refused; a host this process cannot
        resolve (yet) is left to the check before each request."""
        parsed = httpx.URL(url)
        try:
            self.check_name(parsed)
            addresses: list[Address] = []
            with contextlib.suppress(OSError, TimeoutError):
                addresses = await asyncio.wait_for(self.resolve(parsed), RESOLVE_AT_SUBMISSION_S)
            if addresses or parsed.scheme == "http":
                self.check_addresses(parsed, addresses)
        except OutboundRefused as exc:
            raise OutboundRefused(exc.detail, errors=[{"field": field, "message": exc.detail}]) from None

    async def check_config(self, config: Any) -> None:
        """Every URL field of a connector's config (``base_url``, ``token_url``...)."""
        plain = msgspec.to_builtins(config) if isinstance(config, msgspec.Struct) else config
        if not isinstance(plain, Mapping):
            return
        for name, value in plain.items():
            if str(name).endswith("url") and isinstance(value, str) and "://" in value:
                await self.check_submitted(value, f"config.{name}")

    # --- the client's hook ---------------------------------------------------------------
    async def pin(self, request: httpx.Request) -> None:
        """An ``httpx`` request hook: check the request's URL and send it to the address
        checked (the Host header and TLS name stay the host's)."""
        host = request.url.host
        address = await self.check(request.url)
        if _literal(host) is None:
            request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = request.url.copy_with(host=str(address))

    def _refused(self, url: httpx.URL, why: str) -> OutboundRefused:
        shown = url.copy_with(query=None, fragment=None, username=None, password=None)
        return OutboundRefused(
            f"collection does not connect to {shown}: {why}. An administrator allows hosts, "
            f"networks and plain http in {SETTING} (e.g. 'fhir.hospital.example,10.0.0.0/8,"
            "http://ehr.lan')"
        )


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


__all__ = ["SETTING", "Outbound", "OutboundRefused", "Rule", "kind_of", "parse_rule"]
