from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Any failed call: the HTTP status and the backend's `detail` (a string or a list)."""

    def __init__(self, status_code: int, detail: Any, *, method: str = "", path: str = "") -> None:
        self.status_code = status_code
        self.detail = detail
        self.method, self.path = method, path
        super().__init__(f"{method} {path} -> {status_code}: {detail}")

    @property
    def description(self) -> str:
        """The backend's detail as one sentence, for people (the frontend, the CLI)."""
        return describe(self.detail)


def describe(detail: Any) -> str:
    """A `detail` as a sentence: a string, or FastAPI's list of field errors as
    `field: message` items."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                location = [str(part) for part in item.get("loc", ()) if part != "body"]
                message = str(item.get("msg", item))
                parts.append(f"{'.'.join(location)}: {message}" if location else message)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)
