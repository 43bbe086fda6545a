from __future__ import annotations

from pydantic import BaseModel


class Msg(BaseModel):
    """DTBase's plain answer: `{"detail": "..."}`."""

    detail: str
