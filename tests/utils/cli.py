"""The environment of a `dtbase` command run as a subprocess by a test."""

from __future__ import annotations

import os
from pathlib import Path

from dtbase.devdb import free_port


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
