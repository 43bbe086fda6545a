"""`dtbase` commands run as subprocesses by a test: their environment, and `dtbase up`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from dtbase.devdb import free_port
from tests.utils.processes import interruptible


def cli_environment(data_dir: Path) -> dict[str, str]:
    """This process's environment without its DT_ settings, with a data directory of the
    test's own and free ports for everything `dtbase up` serves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_DATA_DIR=str(data_dir),
        DT_EMBEDDED_PORT=str(free_port()),
        DT_BACKEND_PORT=str(free_port()),
        DT_FRONTEND_PORT=str(free_port()),
        DT_SERVICES_PORT=str(free_port()),
        DT_MQTT_PORT=str(free_port()),
    )
    return env


def spawn_up(env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    """`dtbase up` started, its output (stdout and stderr) in one text pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "dtbase", "up", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )


def started_up(
    env: dict[str, str], *options: str, timeout: float = 90
) -> tuple[subprocess.Popen[str], str]:
    """`dtbase up`, once its backend has started; and what it printed so far."""
    process = spawn_up(env, *options)
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + timeout
    while "Application startup complete" not in printed:
        line = process.stdout.readline()
        assert line or process.poll() is None, printed
        assert time.monotonic() < deadline, printed
        printed += line
    return process, printed
