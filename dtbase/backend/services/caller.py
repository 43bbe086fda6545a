"""The outbound call of run-service: one HTTP request to a registered service.

As in DTBase, the parameters (object or array) are the JSON body, whatever the method;
without parameters there is neither a body nor a content-type. No credentials are
forwarded. Unlike DTBase:

- the call is asynchronous, so a slow service holds no thread of the backend;
- the URL is checked against the allow-list at every call, and the connection goes to the
  address that was checked (see `allowlist`); redirects are not followed;
- the whole call is bounded by the timeout, and the reply is read up to a cap;
- failures are reported, not raised. Every connection failure reads the same ("could not
  be reached"), so run logs and answers do not tell a closed port from a filtered one;
  the cause is logged on the server only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import httpx

from dtbase.backend.services.allowlist import Allowlist, IpAddress, Target, UrlNotAllowed
from dtbase.schemas.services import json_problem

logger = logging.getLogger(__name__)

BAD_GATEWAY = 502
GATEWAY_TIMEOUT = 504

CALLED = "Service called successfully."
UNREACHABLE = "Service could not be reached."


@dataclass(frozen=True)
class CallPolicy:
    """What every call obeys (from the backend's settings)."""

    allowlist: Allowlist
    timeout_seconds: float
    reply_max_bytes: int
    # Certificates are checked as usual (SSL_CERT_FILE / SSL_CERT_DIR add a private CA);
    # made once, as loading the CA bundle costs more than a small call.
    tls: ssl.SSLContext = field(default_factory=httpx.create_ssl_context)


@dataclass(frozen=True)
class CallOutcome:
    """What a call produced: the service's status and JSON reply, or why it failed.

    `error` is None when the service answered and its reply (if JSON) was stored.
    """

    status_code: int
    response_json: Any
    error: str | None
    duration_seconds: float
    detail: str = CALLED
    # The service answered (whatever its status): run-service says 200, as DTBase does.
    answered: bool = True


async def call_service(
    *, method: str, url: str, parameters: Any, policy: CallPolicy
) -> CallOutcome:
    """Send one request; `parameters` None means no body. Never raises for network errors."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            target = await policy.allowlist.target(url)
            return await _call(target, method, parameters, policy, started)
    except UrlNotAllowed as refusal:
        return _failure(BAD_GATEWAY, str(refusal), str(refusal), started)
    except TimeoutError:
        detail = f"Service did not answer within {policy.timeout_seconds:g} seconds."
        return _failure(GATEWAY_TIMEOUT, detail, detail, started)
    except (OSError, httpx.HTTPError, httpx.InvalidURL) as error:
        # The cause (refused, reset, unknown host...) tells the network's shape: logs only.
        logger.warning("Service call to %s failed: %s", _origin(url), _describe(error))
        return _failure(BAD_GATEWAY, UNREACHABLE, UNREACHABLE, started)


async def _call(
    target: Target, method: str, parameters: Any, policy: CallPolicy, started: float
) -> CallOutcome:
    """Send the parameters; read the reply."""
    body = {} if parameters is None else {"json": parameters}
    status_code, content = await send_pinned(target, method, policy, **body)
    response_json, problem = read_reply(content, policy.reply_max_bytes)
    return CallOutcome(
        status_code=status_code,
        response_json=response_json,
        error=problem,
        duration_seconds=time.perf_counter() - started,
    )


async def send_pinned(
    target: Target,
    method: str,
    policy: CallPolicy,
    *,
    headers: Mapping[str, str] | None = None,
    **body: Any,
) -> tuple[int, bytes | None]:
    """Send a request (`body`: httpx's `json=` or `content=`) to the checked addresses in
    order until one connects: the status and up to `reply_max_bytes` + 1 bytes of the
    reply (None: cut short). Raises for network errors; the caller bounds the time."""
    last_error: Exception | None = None
    for address in target.addresses:
        try:
            return await _request(target, address, method, policy, headers or {}, body)
        except httpx.ConnectError as error:
            last_error = error
    raise last_error or OSError("no address")


def pinned_client(policy: CallPolicy) -> httpx.AsyncClient:
    """A client for `send_pinned`: no redirects followed, no proxy from the environment
    (a proxy would receive the pinned address), the policy's TLS, no timeout of its own
    (the caller bounds the whole call), and no cookies kept from one answer to the next
    request."""
    client = httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        verify=policy.tls,
        timeout=None,  # noqa: S113
    )
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client


async def _request(
    target: Target,
    address: IpAddress,
    method: str,
    policy: CallPolicy,
    extra_headers: Mapping[str, str],
    body: dict[str, Any],
) -> tuple[int, bytes | None]:
    parts = urlsplit(target.url)
    default_port = {"http": 80, "https": 443}[target.scheme]
    host = f"[{target.host}]" if ":" in target.host else target.host
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    pinned = f"{target.scheme}://{literal}:{target.port}{parts.path or '/'}"
    if parts.query:
        pinned += f"?{parts.query}"
    headers = {
        **extra_headers,
        "Host": host if target.port == default_port else f"{host}:{target.port}",
    }
    auth = (parts.username or "", parts.password or "") if parts.username else None
    async with pinned_client(policy) as http:
        return await _exchange(http, target, method, pinned, headers, auth, policy, body)


async def _exchange(
    http: httpx.AsyncClient,
    target: Target,
    method: str,
    pinned: str,
    headers: Mapping[str, str],
    auth: tuple[str, str] | None,
    policy: CallPolicy,
    body: dict[str, Any],
) -> tuple[int, bytes | None]:
    request = http.build_request(
        method,
        pinned,
        headers=headers,
        # TLS checks the certificate against the name, not the address.
        extensions={"sni_hostname": target.host},
        **body,
    )
    response = await http.send(request, stream=True, auth=auth)
    try:
        content = bytearray()
        # Counted decoded: a small compressed reply cannot unpack past the cap either.
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) > policy.reply_max_bytes:
                return response.status_code, None
        return response.status_code, bytes(content)
    finally:
        await response.aclose()


def read_reply(content: bytes | None, max_bytes: int) -> tuple[Any, str | None]:
    """The reply as JSON to store (None when it is not JSON), and why it was not stored
    when it could not be (too large, too deep, or values the database cannot hold)."""
    if content is None or len(content) > max_bytes:
        return None, f"The reply was larger than {max_bytes} bytes; it was not stored."
    try:
        value = json.loads(content, parse_constant=_no_constant)
    except RecursionError:
        return None, "The reply was nested too deeply to be stored."
    except ValueError:
        return None, None
    problem = json_problem(value)
    if problem is None:
        return value, None
    if problem.message.startswith("nested deeper"):
        return None, f"The reply was {problem.message}; it was not stored."
    # NaN and the like: not JSON, as before (DTBase stored nothing either).
    return None, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _origin(url: str) -> str:
    """The scheme, host and port of a URL, without its path and query (which may hold a
    function key)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
    except ValueError:
        return "an invalid URL"


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _failure(status_code: int, error: str, detail: str, started: float) -> CallOutcome:
    return CallOutcome(
        status_code=status_code,
        response_json=None,
        error=error,
        duration_seconds=time.perf_counter() - started,
        detail=detail,
        answered=False,
    )
