from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dtbase.client.client import Client


class Resource:
    """One domain of the API, reached through the client that owns it."""

    def __init__(self, client: Client) -> None:
        self._client = client
