"""The client and the server agree: every client call exists in the server's OpenAPI with
the same method, and every API operation can be reached through the client."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

import dtbase.client

CALL = re.compile(r'\.(get|post)\(\s*"(/[a-z]+/[a-z-]+)"')
SEND = re.compile(r'\.send\(\s*"([A-Z]+)",\s*"(/[a-z]+/[a-z-]+)"')
# Reached through Client.login / Client.refresh, which call the HTTP layer directly.
CLIENT_ITSELF = {("POST", "/auth/login"), ("POST", "/auth/refresh")}
NOT_FOR_CLIENTS = {("GET", "/health")}


def _client_calls() -> set[tuple[str, str]]:
    folder = Path(dtbase.client.__file__).parent
    return {
        (method.upper(), path)
        for source in folder.glob("*.py")
        for pattern in (CALL, SEND)
        for method, path in pattern.findall(source.read_text())
    }


def _server_operations(anonymous: httpx.Client) -> set[tuple[str, str]]:
    paths = anonymous.get("/openapi.json").json()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_every_client_call_exists_on_the_server(anonymous: httpx.Client) -> None:
    assert _client_calls() - _server_operations(anonymous) == set()


def test_every_operation_has_a_client_method(anonymous: httpx.Client) -> None:
    missing = _server_operations(anonymous) - _client_calls() - CLIENT_ITSELF - NOT_FOR_CLIENTS

    assert missing == set()
