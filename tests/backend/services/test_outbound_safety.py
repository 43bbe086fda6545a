"""Issue 15, items 1 and 5: what the backend calls, what it keeps of the reply, and who
sees the keys; each test is an attack from the audit, against the real backend."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.backend.services.allowlist import Allowlist, UrlNotAllowed
from dtbase.backend.services.caller import CallOutcome, CallPolicy, call_service
from dtbase.core.settings import DEFAULT_SERVICE_URL_ALLOWLIST, DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import free_port
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.stub_service import StubService


def _register(client: httpx.Client | TestClient, name: str, url: str) -> httpx.Response:
    return client.post(
        "/service/insert-service", json={"name": name, "url": url, "http_method": "POST"}
    )


def _run(client: httpx.Client | TestClient, name: str, **body: Any) -> httpx.Response:
    return client.post("/service/run-service", json={"service_name": name, **body})


def _details(client: httpx.Client | TestClient) -> list[dict[str, Any]]:
    return list(client.post("/service/list-runs-details").json())


@pytest.fixture
def default_backend(
    settings: BackendSettings, database_url: str, clean_database: None
) -> Iterator[TestClient]:
    """A backend with the shipped allow-list (the test backend allows all of 127.0.0.1)."""
    with _backend(settings, database_url, allowlist=DEFAULT_SERVICE_URL_ALLOWLIST) as client:
        yield client


# --- which URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("not a url", "http:// or https://"),
        ("ftp://localhost:7071/x", "http:// or https://"),
        ("gopher://localhost:7071/", "http:// or https://"),
        ("http://", "must name a host"),
        ("http://localhost:99999/", "not valid"),
        ("http://169.254.169.254/latest/meta-data/", "allow-list"),
        ("http://localhost:5432/", "allow-list"),
        ("http://127.0.0.1:22/", "allow-list"),
        ("http://[::1]:5000/", "allow-list"),
        ("http://10.0.0.1:7071/", "allow-list"),
        ("http://metadata.google.internal/", "allow-list"),
        ("http://localhost.:5000/", "allow-list"),
        ("http://localhost:7071@127.0.0.1:5000/", "allow-list"),
        # Other spellings of 127.0.0.1, resolved to it: judged on that address and port.
        ("http://2130706433:5000/", "allow-list"),
        ("http://0x7f.1:5432/", "allow-list"),
        ("http://127.1:22/", "allow-list"),
        ("http://[::ffff:127.0.0.1]:5000/", "allow-list"),
        ("https://localhost:5000/", "allow-list"),
    ],
)
def test_urls_the_backend_may_not_call_are_refused_with_a_reason(
    default_backend: TestClient, url: str, says: str
) -> None:
    response = _register(default_backend, "svc", url)

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "url"]
    assert says in error["msg"]
    assert default_backend.get("/service/list-services").json() == []


def test_an_edit_cannot_point_a_service_elsewhere(default_backend: TestClient) -> None:
    assert _register(default_backend, "svc", "http://localhost:7071/api/weather").status_code == 201

    edit = {"name": "svc", "url": "http://127.0.0.1:5432/"}
    response = default_backend.post("/service/edit-service", json=edit)

    assert response.status_code == 422
    [service] = default_backend.get("/service/list-services").json()
    assert service["url"] == "http://localhost:7071/api/weather"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:7071/api/weather",
        "http://127.0.0.1:7071/api/arima?code=k",
        "http://LOCALHOST:7071/api/x",
        "http://[::1]:7071/api/x",
    ],
)
def test_the_local_services_host_is_allowed_out_of_the_box(
    default_backend: TestClient, url: str
) -> None:
    assert _register(default_backend, "svc", url).status_code == 201


def test_a_url_stored_before_the_allow_list_is_not_called(
    settings: BackendSettings, database_url: str, clean_database: None, stub: StubService
) -> None:
    """A service registered when the list was wider (or by DTBase) is refused at run time."""
    with _backend(settings, database_url, allowlist="127.0.0.1") as wide:
        assert _register(wide, "svc", stub.url("/json")).status_code == 201
    with _backend(settings, database_url, allowlist="localhost:7071") as narrow:
        response = _run(narrow, "svc")

        assert response.status_code == 502
        assert "allow-list" in response.json()["detail"]
        [run] = _details(narrow)
        assert (run["status"], run["response_status_code"]) == ("failed", 502)
        assert "allow-list" in run["error"]
    assert stub.received == []


def test_a_name_not_on_the_list_is_judged_by_its_addresses(
    settings: BackendSettings, database_url: str, clean_database: None, stub: StubService
) -> None:
    port = stub.base_url.rsplit(":", 1)[1]
    with _backend(settings, database_url, allowlist="127.0.0.0/8") as backend:
        assert _register(backend, "svc", f"http://localhost:{port}/json").status_code == 201
        response = _run(backend, "svc")

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    # The call went to the checked address, under the registered name.
    [received] = stub.received
    assert received.headers["host"] == f"localhost:{port}"


def test_a_listed_name_never_reaches_metadata_or_unlisted_addresses() -> None:
    """A DNS answer for an allowed name cannot lead to 169.254.169.254 (a rebinding or a
    dangling CNAME); an address on the list is allowed whatever name led to it."""
    allowlist = Allowlist.parse("*.example.org, 10.1.0.0/16")
    metadata = ipaddress.ip_address("169.254.169.254")
    inside = ipaddress.ip_address("10.1.2.3")

    with pytest.raises(UrlNotAllowed):
        allowlist._judge("svc.example.org", 80, (inside, metadata))
    allowlist._judge("svc.example.org", 80, (inside,))
    allowlist._judge("anything.else", 80, (inside,))
    with pytest.raises(UrlNotAllowed):
        allowlist._judge("anything.else", 80, (ipaddress.ip_address("10.2.0.1"),))
    assert allowlist._name_allowed("svc.example.org", 443)
    assert not allowlist._name_allowed("example.org.evil.com", 443)
    assert not allowlist._name_allowed("evilexample.org", 443)


# --- what is called, and what is kept of it --------------------------------------------


def test_redirects_are_not_followed(admin: httpx.Client, stub: StubService) -> None:
    assert _register(admin, "svc", stub.url("/redirect")).status_code == 201

    response = _run(admin, "svc", parameters={"api_key": "k"})

    assert response.status_code == 200
    assert (response.json()["response_status_code"], response.json()["status"]) == (
        302,
        "failed",
    )
    assert [r.path for r in stub.received] == ["/redirect"]


def test_a_large_reply_is_not_stored(admin: httpx.Client, stub: StubService) -> None:
    assert _register(admin, "svc", stub.url("/big")).status_code == 201

    response = _run(admin, "svc")

    assert response.status_code == 200
    answer = response.json()
    assert (answer["response_status_code"], answer["response_json"]) == (200, None)
    assert answer["status"] == "failed"
    assert "larger than 1000000 bytes" in answer["error"]
    [run] = _details(admin)
    assert (run["response_json"], run["error"]) == (None, answer["error"])


def test_an_endless_reply_is_cut_off_not_downloaded(admin: httpx.Client, stub: StubService) -> None:
    assert _register(admin, "svc", stub.url("/endless")).status_code == 201

    started = time.monotonic()
    response = _run(admin, "svc")

    # Read up to the cap, then hung up on: long before the 30 s timeout.
    assert time.monotonic() - started < 10
    assert response.status_code == 200
    assert "larger than" in response.json()["error"]


def test_a_deeply_nested_reply_is_not_stored_and_the_log_still_reads(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService
) -> None:
    assert _register(admin, "svc", stub.url("/deep")).status_code == 201

    response = _run(admin, "svc")

    assert response.status_code == 200
    assert "nested deeper than 32 levels" in response.json()["error"]
    viewer = user_factory(Role.viewer)
    assert viewer.post("/service/list-runs").status_code == 200
    assert viewer.post("/service/list-runs-details").status_code == 200


def test_connection_failures_all_read_the_same(admin: httpx.Client, stub: StubService) -> None:
    """A closed port and one that hangs up must not be told apart (a port scanner)."""
    assert _register(admin, "closed", f"http://127.0.0.1:{free_port()}/").status_code == 201
    assert _register(admin, "hangs-up", stub.url("/disconnect")).status_code == 201
    assert _register(admin, "unknown", "http://no-such-host.invalid/").status_code == 422

    answers = [_run(admin, name) for name in ("closed", "hangs-up")]

    assert [a.status_code for a in answers] == [502, 502]
    assert {a.json()["detail"] for a in answers} == {"Service could not be reached."}
    assert {r["error"] for r in _details(admin)} == {"Service could not be reached."}


# --- limits on what is stored --------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("path", ["insert-parameter-set", "edit-parameter-set"])
def test_parameters_nested_too_deep_are_refused_and_reads_keep_working(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService, path: str
) -> None:
    assert _register(admin, "svc", stub.url("/json")).status_code == 201
    user = user_factory(Role.user)
    body = {"service_name": "svc", "name": "p", "parameters": {"ok": 1}}
    assert user.post("/service/insert-parameter-set", json=body).status_code == 201

    deep = {**body, "parameters": _nested(256)}
    response = user.post(f"/service/{path}", json=deep)

    assert response.status_code == 422
    assert "nested deeper than 32 levels" in response.json()["detail"][0]["msg"]
    assert _run(user, "svc", parameters=_nested(256)).status_code == 422
    schedule = {"service_name": "svc", "name": "s", "interval_seconds": 60}
    response = user.post("/service/insert-schedule", json={**schedule, "parameters": _nested(256)})
    assert response.status_code == 422
    [stored] = admin.post("/service/list-parameter-sets").json()
    assert stored["parameters"] == {"ok": 1}
    assert admin.post("/service/list-runs").json() == []
    # 32 levels are fine.
    assert user.post("/service/edit-parameter-set", json={**body, "parameters": _nested(32)})


def test_parameters_too_large_are_refused(admin: httpx.Client, stub: StubService) -> None:
    assert _register(admin, "svc", stub.url("/json")).status_code == 201
    body = {"service_name": "svc", "name": "p", "parameters": {"blob": "x" * 300_000}}

    response = admin.post("/service/insert-parameter-set", json=body)

    assert response.status_code == 422
    assert "at most 262144 bytes" in response.json()["detail"][0]["msg"]
    assert admin.post("/service/list-parameter-sets").json() == []


# --- who sees the keys ---------------------------------------------------------------

SECRET_PARAMETERS = {"api_key": "S3CRET", "city": "London", "auth": {"password": "pw"}}
MASKED = {"api_key": "********", "city": "London", "auth": "********"}


@pytest.mark.parametrize("role", [Role.viewer, Role.user])
def test_keys_in_parameters_and_urls_are_shown_to_admins_only(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService, role: Role
) -> None:
    assert _register(admin, "svc", stub.url("/json?code=FUNCTIONKEY&x=1")).status_code == 201
    body = {"service_name": "svc", "name": "p", "parameters": SECRET_PARAMETERS}
    assert admin.post("/service/insert-parameter-set", json=body).status_code == 201
    schedule = {"service_name": "svc", "name": "s", "interval_seconds": 60}
    admin.post("/service/insert-schedule", json={**schedule, "parameters": SECRET_PARAMETERS})
    assert _run(admin, "svc", parameter_set_name="p").status_code == 200
    reader = user_factory(role)

    [service] = reader.get("/service/list-services").json()
    [parameter_set] = reader.post("/service/list-parameter-sets").json()
    [run] = reader.post("/service/list-runs").json()
    [details] = reader.post("/service/list-runs-details").json()
    [listed_schedule] = reader.post("/service/list-schedules").json()

    assert "FUNCTIONKEY" not in service["url"]
    assert "x=1" in service["url"]
    assert parameter_set["parameters"] == MASKED
    assert run["parameters"] == details["parameters"] == listed_schedule["parameters"] == MASKED
    # Admins see what is stored, and the service got the real key.
    [parameter_set] = admin.post("/service/list-parameter-sets").json()
    assert parameter_set["parameters"] == SECRET_PARAMETERS
    assert stub.received[0].json == SECRET_PARAMETERS


def test_a_user_editing_a_masked_set_keeps_its_key(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService
) -> None:
    assert _register(admin, "svc", stub.url("/json")).status_code == 201
    body = {"service_name": "svc", "name": "p", "parameters": SECRET_PARAMETERS}
    assert admin.post("/service/insert-parameter-set", json=body).status_code == 201
    user = user_factory(Role.user)
    [shown] = user.post("/service/list-parameter-sets").json()

    edit = {**body, "parameters": {**shown["parameters"], "city": "Leeds"}}
    assert user.post("/service/edit-parameter-set", json=edit).status_code == 200

    [stored] = admin.post("/service/list-parameter-sets").json()
    assert stored["parameters"] == {**SECRET_PARAMETERS, "city": "Leeds"}


@contextmanager
def _backend(
    settings: BackendSettings, database_url: str, *, allowlist: str
) -> Iterator[TestClient]:
    changed = settings.model_copy(update={"service_url_allowlist": allowlist})
    with TestClient(create_app(changed, database_url=database_url)) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = client.post("/auth/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


# --- https ---------------------------------------------------------------------------


@pytest.fixture
def tls_service(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real HTTPS service on 127.0.0.1 whose certificate (from a private CA) names only
    `localhost`; it answers with the Host header and path it got. (port, certificate)"""
    authority = trustme.CA()
    cert = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(cert))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"host": self.headers["host"], "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert  # the CA to trust
    server.shutdown()
    server.server_close()


def test_https_is_called_at_the_checked_address_and_verified_against_the_name(
    tls_service: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_service
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the service's private CA

    def call(url: str, allowlist: str) -> CallOutcome:
        policy = CallPolicy(
            allowlist=Allowlist.parse(allowlist), timeout_seconds=10, reply_max_bytes=10_000
        )
        return asyncio.run(call_service(method="GET", url=url, parameters=None, policy=policy))

    by_name = call(f"https://localhost:{port}/api/x?code=k", "localhost")
    # The certificate names localhost, not 127.0.0.1: checked against the URL's name.
    by_address = call(f"https://127.0.0.1:{port}/api/x", "127.0.0.1")

    assert (by_name.status_code, by_name.error) == (200, None)
    assert by_name.response_json == {"host": f"localhost:{port}", "path": "/api/x?code=k"}
    assert (by_address.status_code, by_address.error) == (502, "Service could not be reached.")


def test_rows_stored_too_deep_before_the_limit_still_read(
    admin: httpx.Client, user_factory: UserFactory, engine: Engine
) -> None:
    """Rows from before the depth limit (or from DTBase) must not make the lists a 500."""
    assert _register(admin, "svc", "http://localhost:1/").status_code == 201
    deep = json.dumps(_nested(300))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO service_parameter_set (name, service_id, parameters) "
                "VALUES ('p', 1, CAST(:deep AS jsonb))"
            ),
            {"deep": deep},
        )
        connection.execute(
            text(
                "INSERT INTO service_run_log (service_id, parameter_set_id, parameters, "
                "response_status_code, response_json, timestamp, status) VALUES "
                "(1, 1, CAST(:deep AS jsonb), 200, CAST(:deep AS jsonb), now(), 'succeeded')"
            ),
            {"deep": deep},
        )

    for reader in (admin, user_factory(Role.viewer)):
        [parameter_set] = reader.post("/service/list-parameter-sets").json()
        [run] = reader.post("/service/list-runs").json()
        [details] = reader.post("/service/list-runs-details").json()

        shown = parameter_set["parameters"]
        for _ in range(32):
            shown = shown["a"]
        assert shown == "(nested deeper than 32 levels: not shown)"
        assert run["parameters"] == run["response_json"] == parameter_set["parameters"]
        assert details["response_json"] == parameter_set["parameters"]
