"""`dtbase events listen`, the real command in a subprocess against a real backend: JSON
lines, --exec, --post (a CloudEvent to a real receiver), failures reported, and resuming
after the backend is killed and restarted."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from dtbase.schemas.events import EventKind
from tests.utils.event_streams import BackendProcess, readings_stored, record_events
from tests.utils.processes import interruptible
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD


class Listening:
    """The command running; its output lines, read as they come."""

    def __init__(self, backend: str, *options: str, cwd: Path | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
        environment |= {"DT_BACKEND_URL": backend, "DT_DEFAULT_USER_PASS": DEFAULT_PASSWORD}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dtbase", "events", "listen", *options],
            env=environment,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def lines(self, count: int, *, err: bool = False, timeout: float = 20) -> list[str]:
        source = self.err if err else self.out
        return [source.get(timeout=timeout) for _ in range(count)]

    def events(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines(count, timeout=timeout)]

    def stop(self) -> int:
        """Ctrl-C; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(20)


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


@pytest.fixture
def listening(live_backend: str, clean_database: None) -> Iterator[list[Listening]]:
    started: list[Listening] = []
    yield started
    for command in started:
        command.stop()


def listen(started: list[Listening], backend: str, *options: str, **kw: Any) -> Listening:
    command = Listening(backend, *options, **kw)
    started.append(command)
    return command


def test_prints_the_matching_events_as_json_lines(
    live_backend: str, listening: list[Listening], engine: Engine
) -> None:
    record_events(engine, [readings_stored("a"), readings_stored("b")])
    command = listen(listening, live_backend, "--from", "0", "--sensor", "a", "--sensor", "c")
    record_events(engine, [readings_stored("c"), readings_stored("d")])
    events = command.events(2)
    assert [(e["id"], e["kind"], e["meta"]["sensor"]) for e in events] == [
        (1, "readings.stored", "a"),
        (3, "readings.stored", "c"),
    ]
    assert command.stop() == 0
    assert command.out.empty()


def test_exec_runs_the_command_with_the_event_on_its_input(
    live_backend: str, listening: list[Listening], engine: Engine, tmp_path: Path
) -> None:
    script = 'cat >> got.jsonl; echo " $DTBASE_EVENT_ID $DTBASE_EVENT_KIND" >> got.jsonl'
    command = listen(
        listening,
        live_backend,
        "--from",
        "0",
        "--kind",
        "sensor.created",
        "--exec",
        script,
        cwd=tmp_path,
    )
    record_events(engine, [(EventKind.sensor_created, {"sensor": "a", "sensor_type": "T"})])
    record_events(engine, [readings_stored("a")])
    record_events(engine, [(EventKind.sensor_created, {"sensor": "b", "sensor_type": "T"})])
    deadline_lines = _wait_for_lines(tmp_path / "got.jsonl", 2)
    first, second = (line.rsplit(" ", 2) for line in deadline_lines)
    assert json.loads(first[0])["meta"] == {"sensor": "a", "sensor_type": "T"}
    assert first[1:] == ["1", "sensor.created"]
    assert second[1:] == ["3", "sensor.created"]
    assert command.out.empty()  # the command's output, and nothing printed besides


def test_a_failing_command_is_reported_and_listening_goes_on(
    live_backend: str, listening: list[Listening], engine: Engine
) -> None:
    command = listen(listening, live_backend, "--from", "0", "--exec", "exit 3")
    record_events(engine, [readings_stored("a"), readings_stored("b")])
    errors = command.lines(2, err=True)
    assert errors == [
        "Error: event 1 (readings.stored): the command exited with status 3",
        "Error: event 2 (readings.stored): the command exited with status 3",
    ]
    assert command.process.poll() is None


def test_stop_on_error_stops_at_the_first_failure(
    live_backend: str, listening: list[Listening], engine: Engine
) -> None:
    command = listen(listening, live_backend, "--from", "0", "--exec", "false", "--stop-on-error")
    record_events(engine, [readings_stored("a"), readings_stored("b")])
    assert command.process.wait(20) == 1
    assert command.lines(1, err=True) == [
        "Error: event 1 (readings.stored): the command exited with status 1"
    ]


def test_post_sends_a_cloudevent_and_reports_a_refusal(
    live_backend: str, listening: list[Listening], engine: Engine
) -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        received.append((request.headers["content-type"], body))
        return Response(status_code=500 if body["data"]["meta"]["sensor"] == "bad" else 204)

    with served(receiver) as url:
        command = listen(listening, live_backend, "--from", "0", "--post", f"{url}/hook")
        record_events(engine, [readings_stored("bad"), readings_stored("good")])
        (error,) = command.lines(1, err=True)
        assert error.startswith(f"Error: event 1 (readings.stored): POST {url}/hook answered 500")
        _wait_until(lambda: len(received) == 2)

    # The mapping itself is tested in tests/schemas/test_cloudevents.py.
    content_type, cloud_event = received[1]
    assert content_type == "application/cloudevents+json"
    assert cloud_event["id"] == "2"
    assert cloud_event["source"] == f"{live_backend}/events/stream"
    assert cloud_event["subject"] == "good"
    assert cloud_event["data"]["meta"]["sensor"] == "good"


def test_the_command_loads_cloudevents_only_for_post() -> None:
    """`cloudevents` takes tens of milliseconds to import: every `dtbase` command paid
    for it when the CLI imported it at the top."""
    code = (
        "import sys, dtbase.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cloudevents'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--kind", "readings.nope"), "kind"),
        (("--colour", "red"), "No such option"),
        (("--from", "yesterday"), "--from: 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_bad_options_end_the_command_with_a_message(
    live_backend: str, listening: list[Listening], options: tuple[str, ...], message: str
) -> None:
    command = listen(listening, live_backend, *options)
    assert command.process.wait(20) != 0
    assert message in "\n".join(command.lines(1, err=True) + _rest(command.err))


def test_it_resumes_after_the_backend_is_killed_and_restarted(
    database_url: str, engine: Engine, tmp_path: Path, listening: list[Listening]
) -> None:
    with BackendProcess(database_url, tmp_path) as backend:
        command = listen(listening, backend.url, "--sensor", "a", "--from", "0")
        record_events(engine, [readings_stored("a") for _ in range(3)])
        assert [e["id"] for e in command.events(3)] == [1, 2, 3]
        backend.kill()
        record_events(engine, [readings_stored("a") for _ in range(3)])
        backend.start()
        record_events(engine, [readings_stored("a") for _ in range(3)])
        assert [e["id"] for e in command.events(6, timeout=40)] == [4, 5, 6, 7, 8, 9]
        assert "interrupted" in "\n".join(_rest(command.err))


def _rest(lines: queue.Queue[str]) -> list[str]:
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    return rest


def _wait_until(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _wait_for_lines(path: Path, count: int) -> list[str]:
    _wait_until(lambda: path.exists() and len(path.read_text().splitlines()) >= count)
    return path.read_text().splitlines()
