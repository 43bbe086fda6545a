"""Where the backend may send service calls: http(s) URLs whose host is on an allow-list.

`DT_SERVICE_URL_ALLOWLIST` is a comma-separated list of entries:

- a host name, `services` or `*.example.org` (any subdomain), optionally with `:port`;
- an IP address, `127.0.0.1` or `[::1]`, optionally with `:port`;
- an IP network, `10.0.0.0/8` (any port);
- `*`: any host (http and https only, still).

A URL is allowed when its scheme is http or https, it names a host, and either its host
name matches a name entry, or its host (a literal address, or every address a name
resolves to) lies in an address entry; the port must match where the entry gives one.
A URL allowed by its name still never reaches a link-local, unspecified or multicast
address (cloud metadata endpoints live at 169.254.169.254) unless an address entry names
it. Calls connect to the very address that was checked, so a DNS answer that changes
between the check and the connection cannot redirect them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = {"http": 80, "https": 443}
# Never reached through a host name: metadata services, "this host", multicast.
NEVER_BY_NAME = tuple(
    ipaddress.ip_network(net)
    for net in ("169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128", "224.0.0.0/4", "ff00::/8")
)


class UrlNotAllowed(ValueError):
    """The URL is not one the backend may call; the message says why, for an admin."""


@dataclass(frozen=True)
class NameEntry:
    name: str  # lower case, without a trailing dot; "*.x" matches subdomains of x
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name


@dataclass(frozen=True)
class AddressEntry:
    network: IpNetwork
    port: int | None

    def matches(self, address: IpAddress, port: int) -> bool:
        return (self.port is None or self.port == port) and address in self.network


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (addresses, in order) and what to call it."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IpAddress, ...]


@dataclass(frozen=True)
class Allowlist:
    any_host: bool
    names: tuple[NameEntry, ...]
    addresses: tuple[AddressEntry, ...]
    # What the list guards and where it comes from, as refusals name them (webhooks share
    # the rules with their own list).
    what: str = "Services"
    setting: str = "DT_SERVICE_URL_ALLOWLIST"

    @classmethod
    def parse(
        cls, text: str, *, what: str = "Services", setting: str = "DT_SERVICE_URL_ALLOWLIST"
    ) -> Allowlist:
        names: list[NameEntry] = []
        addresses: list[AddressEntry] = []
        any_host = False
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                any_host = True
                continue
            entry = entry.split("://", 1)[-1].rstrip("/")
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                pass
            else:
                addresses.append(AddressEntry(network, None))
                continue
            parts = urlsplit(f"//{entry}")
            host = _host_of(parts)
            if not host:
                raise ValueError(f"{setting}: {entry!r} is not a host")
            address = _address(host)
            if address is None:
                names.append(NameEntry(host, parts.port))
            else:
                addresses.append(AddressEntry(ipaddress.ip_network(address), parts.port))
        return cls(any_host, tuple(names), tuple(addresses), what, setting)

    def check(self, url: str) -> tuple[SplitResult, str, int]:
        """The URL's parts, host and port if its form may be allowed; else UrlNotAllowed.

        What needs no DNS: scheme, host present, and (for a literal address) the address.
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            raise UrlNotAllowed(f"The URL is not valid: {error}.") from error
        if parts.scheme.lower() not in SCHEMES:
            raise UrlNotAllowed("The URL must start with http:// or https://.")
        host = _host_of(parts)
        if not host:
            raise UrlNotAllowed("The URL must name a host, e.g. http://services:7071/api/x.")
        try:
            # As it goes on the wire (non-ASCII names in their IDNA form); and a URL the
            # HTTP client could not send is refused now rather than at every run.
            host = host.encode("idna").decode("ascii")
            httpx.URL(url.strip())
        except (UnicodeError, httpx.InvalidURL) as error:
            raise UrlNotAllowed(f"The URL is not valid: {error}.") from error
        port = port or SCHEMES[parts.scheme.lower()]
        address = _address(host)
        if address is not None and not self._address_allowed(address, port, by_name=False):
            raise self._refusal(host, port)
        return parts, host, port

    def check_registration(self, url: str) -> None:
        """What insert-service and edit-service check: the form, then name or addresses.

        A name on the list is accepted without resolving it (the host may not be up yet);
        a name that is not is resolved and judged by its addresses.
        """
        _, host, port = self.check(url)
        if self._name_allowed(host, port) or _address(host) is not None:
            return
        try:
            found = resolve_now(host, port)
        except OSError as error:
            raise self._refusal(host, port) from error
        self._judge(host, port, found)

    async def target(self, url: str) -> Target:
        """Check a URL before a call, resolving its host; UrlNotAllowed, or OSError when
        the host does not resolve."""
        parts, host, port = self.check(url)
        address = _address(host)
        if address is not None:
            found: tuple[IpAddress, ...] = (address,)
        else:
            found = await resolve(host, port)
            self._judge(host, port, found)
        return Target(
            url=url.strip(), scheme=parts.scheme.lower(), host=host, port=port, addresses=found
        )

    def _judge(self, host: str, port: int, found: tuple[IpAddress, ...]) -> None:
        by_name = self._name_allowed(host, port)
        if not found or not all(self._address_allowed(a, port, by_name=by_name) for a in found):
            raise self._refusal(host, port)

    def _name_allowed(self, host: str, port: int) -> bool:
        return self.any_host or any(entry.matches(host, port) for entry in self.names)

    def _address_allowed(self, address: IpAddress, port: int, *, by_name: bool) -> bool:
        if any(entry.matches(address, port) for entry in self.addresses):
            return True
        allowed_anyway = by_name or self.any_host
        return allowed_anyway and not any(address in net for net in NEVER_BY_NAME)

    def _refusal(self, host: str, port: int) -> UrlNotAllowed:
        return UrlNotAllowed(
            f"{self.what} may not be called at {host}:{port}: it is not on the backend's "
            f"allow-list ({self.setting})."
        )


def _host_of(parts: SplitResult) -> str:
    """The host in lower case, without a trailing dot (`a.b.` and `a.b` are one host)."""
    return (parts.hostname or "").rstrip(".")


def _address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(infos: list[tuple[object, ...]]) -> tuple[IpAddress, ...]:
    seen: dict[IpAddress, None] = {}
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        # A scope id (`fe80::1%eth0`) is not part of the address.
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    # IPv4 first: local hosts often listen on 127.0.0.1 only, while `localhost` lists ::1.
    return tuple(sorted(seen, key=lambda a: a.version))


async def resolve(host: str, port: int) -> tuple[IpAddress, ...]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _addresses(list(infos))


def resolve_now(host: str, port: int) -> tuple[IpAddress, ...]:
    return _addresses(list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
