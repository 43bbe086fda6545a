from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from dtbase.client.client import Client


class Resource:
    """One domain of the API, reached through the client that owns it."""

    def __init__(self, client: Client) -> None:
        self._client = client


M = TypeVar("M", bound=BaseModel)


def as_models(model: type[M], items: Iterable[M | Mapping[str, Any]]) -> list[M]:
    """The items as `model`s: scripts may give plain dicts (validated here, before any
    request is sent)."""
    return [item if isinstance(item, model) else model.model_validate(dict(item)) for item in items]
