"""Architecture rules for the services: they are clients of the API, and statsmodels loads
only where the ARIMA forecaster needs it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_services_and_the_sdk_never_touch_the_backend_or_the_database() -> None:
    files = [*(ROOT / "services").rglob("*.py"), *(ROOT / "dtbase" / "sdk").rglob("*.py")]
    forbidden = ("dtbase.backend", "dtbase.devdb", "sqlalchemy", "psycopg", "alembic")

    offending = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.startswith(forbidden))
        for path in files
    }

    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_statsmodels_only_in_the_arima_forecaster() -> None:
    users = {
        str(path.relative_to(ROOT))
        for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "dtbase").rglob("*.py")]
        if any(m.startswith(("statsmodels", "scipy")) for m in _imports(path))
    }

    assert users == {"services/arima/forecast.py"}


def test_the_host_and_the_function_app_start_without_statsmodels() -> None:
    code = (
        "import sys, services.host, services.function_app, services.registry; "
        "services.host.create_app(); "
        "print(sorted(m for m in sys.modules if m.startswith(('statsmodels', 'scipy'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert loaded.stdout.strip() == "[]"
