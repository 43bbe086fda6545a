"""The client and the server agree: every client call exists in the server's OpenAPI with
the same method, and every API operation can be reached through the client.

The client's calls are read from its source structurally: every HTTP call (`.get`,
`.post`, ... or `.request(method, path)`) whose path is a string, a constant naming one, or
an f-string (its `{...}` parts read as the server's `{parameter}`s).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import httpx

import dtbase.client

VERBS = {"get", "post", "put", "patch", "delete"}
GENERIC = {"request", "stream", "send"}
# Reached through Client.login / Client.refresh, which call the HTTP layer directly.
CLIENT_ITSELF = {("POST", "/auth/login"), ("POST", "/auth/refresh")}
NOT_FOR_CLIENTS = {("GET", "/health")}


def _constants(tree: ast.Module) -> dict[str, str]:
    """Names bound to a string anywhere in the module (module, class or function level)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        value = getattr(node, "value", None)
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = value.value
            elif isinstance(target, ast.Attribute):
                found[target.attr] = value.value
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute):
        return constants.get(node.attr)
    if isinstance(node, ast.JoinedStr):
        parts = [
            _text(part, constants) if isinstance(part, ast.Constant) else "{}"
            for part in node.values
        ]
        return "".join(part or "" for part in parts)
    return None


def _is_path(text: str | None) -> bool:
    return text is not None and re.fullmatch(r"(/[\w{}.-]+)+", text) is not None


def _calls_in(tree: ast.Module) -> set[tuple[str, str]]:
    constants = _constants(tree)
    calls = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args = [_text(arg, constants) for arg in node.args]
        verb = node.func.attr
        if verb in VERBS and args and _is_path(args[0]):
            calls.add((verb.upper(), str(args[0])))
        elif verb in GENERIC and len(args) >= 2 and args[0] and _is_path(args[1]):
            calls.add((str(args[0]).upper(), str(args[1])))
    return calls


def _client_calls() -> set[tuple[str, str]]:
    folder = Path(dtbase.client.__file__).parent
    return {
        call for source in folder.glob("*.py") for call in _calls_in(ast.parse(source.read_text()))
    }


def _server_operations(anonymous: httpx.Client) -> set[tuple[str, str]]:
    paths = anonymous.get("/openapi.json").json()["paths"]
    return {
        (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
        for path, item in paths.items()
        for method in item
    }


def test_the_reader_finds_calls_however_the_path_is_written() -> None:
    source = """
EXPORT = "/fdb-codes/list-codes"

class Resource:
    ROUTE = "/sensor/insert-readings-bulk-csv"

    def a(self): return self._client.post("/sensor/list-sensors", {}, list)
    def b(self): return self._client.http.post(
        self.ROUTE, files={})
    def c(self): return self._client.get(EXPORT, list)
    def d(self, run): return self._client.request("GET", f"/models/runs/{run}")
    def e(self, path): return self._client.request("GET", path)
"""
    assert _calls_in(ast.parse(source)) == {
        ("POST", "/sensor/list-sensors"),
        ("POST", "/sensor/insert-readings-bulk-csv"),
        ("GET", "/fdb-codes/list-codes"),
        ("GET", "/models/runs/{}"),
    }


def test_every_client_call_exists_on_the_server(anonymous: httpx.Client) -> None:
    assert _client_calls() - _server_operations(anonymous) == set()


def test_every_operation_has_a_client_method(anonymous: httpx.Client) -> None:
    missing = _server_operations(anonymous) - _client_calls() - CLIENT_ITSELF - NOT_FOR_CLIENTS

    assert missing == set()
