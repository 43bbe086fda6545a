"""The event stream relayed to the browser (`GET /events/stream` of the frontend): the
backend's events for the logged-in user, the query and `Last-Event-ID` passed on, and at
most `DT_FRONTEND_STREAMS` streams at once per process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import free_port
from dtbase.schemas.auth import TokenPair
from frontend import create_app
from frontend.auth.session import TOKENS_KEY
from frontend.backend import backend_url
from frontend.events.stream import SLOTS_EXTENSION, StreamSlots
from frontend.server import FrontendServer
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET
from tests.utils.streams import browser_login, next_event, records
from tests.utils.visitors import Visitor, frontend_settings

STREAMS = 2


@pytest.fixture
def frontend(live_backend: str, clean_database: None) -> Iterator[FrontendServer]:
    """The frontend over real HTTP, relaying at most STREAMS streams at once."""
    # Plain HTTP here: a Secure cookie would never come back.
    settings = frontend_settings(
        live_backend, frontend_streams=STREAMS, session_cookie_secure=False
    )
    app = create_app(settings)
    server = FrontendServer(app).start()
    server.app = app  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def browser(frontend: FrontendServer) -> Iterator[httpx.Client]:
    # A stream that shows nothing for 20 s has failed the test (keep-alives come every 15 s).
    with httpx.Client(base_url=frontend.url, timeout=20) as http:
        yield browser_login(http, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)


def _slots(frontend: FrontendServer) -> StreamSlots:
    slots: StreamSlots = frontend.app.extensions[SLOTS_EXTENSION]  # type: ignore[attr-defined]
    return slots


def _sensor_with_readings(client: Client, uid: str) -> None:
    client.sensors.insert_sensor_type("thermometer", [])
    client.sensors.insert_sensor("thermometer", uid)


def test_anonymous_visitors_are_sent_to_log_in(frontend: FrontendServer) -> None:
    answer = httpx.get(f"{frontend.url}/events/stream", headers={"Accept": "text/event-stream"})

    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=%2Fevents%2Fstream"
    assert _slots(frontend).taken == 0


def test_the_logged_in_user_gets_the_backends_events_live(
    browser: httpx.Client, client: Client, frontend: FrontendServer
) -> None:
    with browser.stream("GET", "/events/stream", params={"kind": "sensor.created"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["cache-control"] == "no-store"
        stream = records(answer)
        first = next(stream)  # the cursor the stream starts from
        assert first.id is not None
        assert first.data is None
        assert _slots(frontend).taken == 1

        client.models.insert_model("not-a-sensor")  # filtered out by the query
        _sensor_with_readings(client, "t-1")

        event = next_event(stream)
        assert event.event == "sensor.created"
        assert event.json()["meta"] == {"sensor": "t-1", "sensor_type": "thermometer"}
        assert int(event.id or 0) > int(first.id)


def test_last_event_id_and_from_replay_what_was_missed(
    browser: httpx.Client, client: Client
) -> None:
    client.models.insert_model("first")
    client.models.insert_model("second")
    client.models.insert_model("third")
    every = client.events.history({"kind": "model.created"}).events
    assert [event.meta["model"] for event in every] == ["first", "second", "third"]

    headers = {"Last-Event-ID": str(every[0].id)}
    with browser.stream("GET", "/events/stream", params={"from": "0"}, headers=headers) as answer:
        replayed = next_event(records(answer))
    assert replayed.json()["meta"] == {"model": "second"}  # the header wins over `from`

    with browser.stream("GET", "/events/stream", params={"from": str(every[1].id)}) as answer:
        replayed = next_event(records(answer))
    assert replayed.json()["meta"] == {"model": "third"}


def test_a_bad_query_is_the_backends_422_as_json(
    browser: httpx.Client, frontend: FrontendServer
) -> None:
    answer = browser.get("/events/stream", params={"kind": "no.such-kind"})

    assert answer.status_code == 422
    assert "kind" in str(answer.json()["detail"])
    assert _slots(frontend).taken == 0


def test_streams_beyond_the_cap_get_503_and_pages_still_load(
    browser: httpx.Client, frontend: FrontendServer
) -> None:
    with (
        browser.stream("GET", "/events/stream") as one,
        browser.stream("GET", "/events/stream") as two,
    ):
        assert (one.status_code, two.status_code) == (200, 200)
        next(records(one)), next(records(two))
        assert _slots(frontend).taken == STREAMS

        refused = browser.get("/events/stream")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "15"
        assert refused.text == "retry: 15000\n\n"
        assert browser.get("/home/index").status_code == 200


def test_a_stream_the_browser_left_gives_its_slot_back(
    browser: httpx.Client, client: Client, frontend: FrontendServer
) -> None:
    for round_ in range(3 * STREAMS):  # more streams in turn than there are slots
        with browser.stream("GET", "/events/stream") as answer:
            assert answer.status_code == 200
            next(records(answer))
        # The server finds the browser gone when it next writes: events make it write.
        for attempt in range(50):
            if _slots(frontend).taken == 0:
                break
            client.models.insert_model(f"m-{round_}-{attempt}")
            time.sleep(0.1)
        assert _slots(frontend).taken == 0


def test_an_expired_access_token_is_renewed_and_kept_in_the_session(
    admin_visitor: Visitor,
) -> None:
    stale = _expired(admin_visitor.session()[TOKENS_KEY]["access_token"])
    with admin_visitor.client.session_transaction() as session:
        session[TOKENS_KEY] = session[TOKENS_KEY] | {"access_token": stale}

    answer = admin_visitor.client.get("/events/stream", buffered=False)
    try:
        assert answer.status_code == 200
        first = next(answer.iter_encoded())
        assert first.startswith(b"id: ")
    finally:
        answer.close()

    renewed = admin_visitor.session()[TOKENS_KEY]["access_token"]
    assert renewed != stale
    assert jwt.decode(renewed, JWT_SECRET, algorithms=["HS256"])["exp"] > time.time()
    assert _slots_of(admin_visitor).taken == 0


def test_a_session_the_backend_ended_gets_its_401(admin_visitor: Visitor) -> None:
    tokens = TokenPair.model_validate(admin_visitor.session()[TOKENS_KEY])
    Client(http=httpx.Client(base_url=_backend_of(admin_visitor)), tokens=tokens).logout()

    answer = admin_visitor.client.get("/events/stream")

    assert answer.status_code == 401
    assert _slots_of(admin_visitor).taken == 0


def test_live_pages_can_be_turned_off(live_backend: str, clean_database: None) -> None:
    app = create_app(frontend_settings(live_backend, frontend_streams=0))
    with app.test_client() as http:
        visitor = Visitor(http)
        visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        assert visitor.get("/events/stream").status_code == 503
        home = visitor.get("/home/index").text
    assert "data-live" not in home
    assert 'data-testid="count-sensors"' in home


def _expired(token: str) -> str:
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    return jwt.encode(claims | {"exp": int(time.time()) - 60}, JWT_SECRET, algorithm="HS256")


def _slots_of(visitor: Visitor) -> StreamSlots:
    slots: StreamSlots = visitor.client.application.extensions[SLOTS_EXTENSION]
    return slots


def _backend_of(visitor: Visitor) -> str:
    with visitor.client.application.app_context():
        return backend_url()


def test_an_unreachable_backend_is_503_and_frees_the_slot(
    admin_visitor: Visitor, live_backend: str
) -> None:
    app = create_app(frontend_settings(f"http://127.0.0.1:{free_port()}"))
    with app.test_client() as http:
        with http.session_transaction() as session:
            session.update(admin_visitor.session())  # logged in; the backend is gone

        answer = http.get("/events/stream")

    assert answer.status_code == 503
    slots: StreamSlots = app.extensions[SLOTS_EXTENSION]
    assert slots.taken == 0
