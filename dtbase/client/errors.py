from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Any failed call: the HTTP status and the backend's `detail` (a string or a list)."""

    def __init__(self, status_code: int, detail: Any, *, method: str = "", path: str = "") -> None:
        self.status_code = status_code
        self.detail = detail
        self.method, self.path = method, path
        super().__init__(f"{method} {path} -> {status_code}: {detail}")
