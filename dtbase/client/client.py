"""The HTTP client for the dtbase API, used by the frontend, the services, the CLI and
users' scripts.

It logs in, keeps the token pair, and when the backend says the access token has expired
it refreshes it (or logs in again with the credentials it was given) and retries once.
Pass `http=` to reuse an `httpx.Client`, e.g. one with a mounted transport in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import httpx
from pydantic import TypeAdapter

from dtbase.client.errors import ApiError
from dtbase.client.events import Events
from dtbase.client.fdb import Fdb
from dtbase.client.locations import Locations
from dtbase.client.models import Models
from dtbase.client.mqtt import Mqtt
from dtbase.client.sensors import Sensors
from dtbase.client.services import Services
from dtbase.client.subscriptions import Subscriptions
from dtbase.client.triggers import Triggers
from dtbase.client.users import Users
from dtbase.core.settings import ClientSettings
from dtbase.schemas.auth import LoginRequest, TokenPair

# A file to upload: its name, its content (bytes, or a binary file read in chunks as it
# is sent) and its media type.
FileField = tuple[str, bytes | IO[bytes], str]

T = TypeVar("T")

EXPIRED = "Token has expired"


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        tokens: TokenPair | None = None,
    ) -> None:
        self.http = http or httpx.Client(
            base_url=base_url or ClientSettings().backend_url, timeout=timeout
        )
        self.tokens = tokens
        self._credentials: LoginRequest | None = None
        self.users = Users(self)
        self.locations = Locations(self)
        self.sensors = Sensors(self)
        self.models = Models(self)
        self.services = Services(self)
        self.fdb = Fdb(self)
        self.mqtt = Mqtt(self)
        self.events = Events(self)
        self.subscriptions = Subscriptions(self)

        self.triggers = Triggers(self)

    @classmethod
    def logged_in(cls, base_url: str | None, email: str, password: str, **kwargs: Any) -> Self:
        client = cls(base_url, **kwargs)
        client.login(email, password)
        return client

    def login(self, email: str, password: str, *, on_behalf_of: str | None = None) -> TokenPair:
        """Log in; the credentials are kept to log in again when the refresh token expires.

        `on_behalf_of`: the address of the person logging in, when this client logs in for
        them (the frontend), so that the backend throttles failed logins per person, not
        per frontend. The backend believes it only from addresses it trusts (uvicorn's
        `FORWARDED_ALLOW_IPS`).
        """
        credentials = LoginRequest(email=email, password=password)
        headers = {"X-Forwarded-For": on_behalf_of} if on_behalf_of else None
        response = self.http.post("/auth/login", json=credentials.model_dump(), headers=headers)
        self.tokens = TokenPair.model_validate(_checked(response))
        self._credentials = credentials
        return self.tokens

    def refresh(self) -> TokenPair:
        if self.tokens is None:
            raise ApiError(401, "Not logged in", method="POST", path="/auth/refresh")
        response = self.http.post(
            "/auth/refresh", headers={"Authorization": f"Bearer {self.tokens.refresh_token}"}
        )
        self.tokens = TokenPair.model_validate(_checked(response))
        return self.tokens

    def logout(self) -> None:
        """End this login session at the backend: its tokens stop working everywhere."""
        if self.tokens is not None:
            token = self.tokens.refresh_token  # works even when the access token has expired
            response = self.http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
            _checked(response)
        self.tokens = None
        self._credentials = None

    def password_changed(self, email: str, password: str) -> None:
        """After changing the password of the user this client logged in as: the backend
        ended the session, so log in again with the new password."""
        if self._credentials is not None and self._credentials.email.lower() == email.lower():
            self.login(self._credentials.email, password)

    def request(self, method: str, path: str, json: Any = None) -> Any:
        """Call the API and return the decoded JSON answer; raise ApiError on 4xx/5xx."""
        return _decoded(self.send(method, path, json=json))

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, FileField] | None = None,
        timeout: float | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """The one way calls go out: with the access token, renewed and retried once when
        it has expired. The successful response (for answers that are not JSON, and
        uploads); raise ApiError on 4xx/5xx. `timeout`: seconds, instead of the
        `httpx.Client`'s own (e.g. for a large upload that the backend checks whole).
        `content`: a JSON body already encoded (e.g. by orjson, for a large bulk write),
        instead of `json`."""
        response = self._send(method, path, json, params, files, timeout, content)
        if response.status_code == 401 and _detail(response) == EXPIRED and self.renew():
            response = self._send(method, path, json, params, files, timeout, content)
        return _successful(response)

    def get(self, path: str, result: type[T]) -> T:
        """GET and validate the answer as `result` (a model, `list[Model]`, ...)."""
        return TypeAdapter(result).validate_python(self.request("GET", path))

    def post(self, path: str, body: Any, result: type[T]) -> T:
        """POST `body` (None: no body) and validate the answer as `result`."""
        return TypeAdapter(result).validate_python(self.request("POST", path, body))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, str] | None,
        files: Mapping[str, FileField] | None,
        timeout: float | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        headers = {}
        if self.tokens is not None:
            headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        wait: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
        if content is not None:
            headers["Content-Type"] = "application/json"
            return self.http.request(
                method, path, content=content, params=params, headers=headers, timeout=wait
            )
        if json is None:
            return self.http.request(
                method, path, params=params, files=files, headers=headers, timeout=wait
            )
        return self.http.request(
            method, path, json=json, params=params, headers=headers, timeout=wait
        )

    def renew(self) -> bool:
        """Get a fresh access token: refresh it, or, when the refresh token has expired
        too, log in again with the credentials `login` was given. True when it worked.

        Calls through this client renew an expired token by themselves; call this where
        a request goes out another way (e.g. a stream opened with `self.http`) and the
        backend answered 401 "Token has expired"."""
        try:
            self.refresh()
            return True
        except ApiError:
            if self._credentials is None:
                return False
        try:
            self.login(self._credentials.email, self._credentials.password)
        except ApiError:
            return False
        return True


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return None


def _checked(response: httpx.Response) -> Any:
    return _decoded(_successful(response))


def _decoded(response: httpx.Response) -> Any:
    return response.json() if response.content else None


def _successful(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    detail = _detail(response)
    raise ApiError(
        response.status_code,
        detail if detail is not None else response.text,
        method=response.request.method,
        path=response.request.url.path,
    )
