"""Fixtures of the FDB bridge tests: every test gets its own FDB root and registry file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtbase.fdb import FdbStore, JsonCodeRegistry


@pytest.fixture
def store(tmp_path: Path) -> FdbStore:
    return FdbStore(data_dir=tmp_path / "data")


@pytest.fixture
def registry(tmp_path: Path) -> JsonCodeRegistry:
    return JsonCodeRegistry(tmp_path / "registry.json")
