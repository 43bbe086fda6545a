"""The backend's server under `dtbase up`: it lets the service runs under way finish
before it stops."""

from __future__ import annotations

import threading
import time
from types import FrameType

import typer
import uvicorn
from fastapi import FastAPI

from dtbase.backend.services.runs import BackgroundRuns

# How long Ctrl-C waits for the service runs under way before `up` stops anyway.
DRAIN_SECONDS = 60.0


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on the first Ctrl-C (or SIGTERM) lets the service runs under
    way finish before it stops.

    A run's service writes its results through this API: when the backend stopped first,
    those writes were refused and the run failed. Now no new run starts (the scheduler
    and the triggers stop), requests are still served, and the server stops once the runs
    are done, after DRAIN_SECONDS, or at a second Ctrl-C.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runs: BackgroundRuns = self._app.state.background_runs
        if self._draining or not runs.in_flight():
            super().handle_exit(sig, frame)
            return
        self._draining = True
        threading.Thread(
            target=self._drain, args=(runs, sig), name="dtbase-up-drain", daemon=True
        ).start()

    def _drain(self, runs: BackgroundRuns, sig: int) -> None:
        jobs = self._app.state.jobs
        jobs.scheduler.stop()
        jobs.trigger_worker.stop()
        typer.echo(
            f"Waiting for {len(runs.in_flight())} service run(s) under way to finish "
            f"(at most {DRAIN_SECONDS:.0f} s; Ctrl-C again stops now)."
        )
        deadline = time.monotonic() + DRAIN_SECONDS
        while runs.in_flight() and time.monotonic() < deadline and not self.should_exit:
            time.sleep(0.1)
        if self.should_exit:
            return  # a second Ctrl-C: uvicorn is stopping already
        if left := runs.in_flight():
            # Not silently: the next start fails them as left pending by a stopped backend.
            typer.echo(f"Stopping with {len(left)} service run(s) unfinished: {sorted(left)}.")
        # As if the signal came now: uvicorn stops, then raises it again for `up`.
        super().handle_exit(sig, None)
