"""Users of the backend: logging in over HTTP and creating users of a role."""

from __future__ import annotations

import httpx

from dtbase.schemas.users import Role


def password_of(email: str) -> str:
    """The password the factories give the user `email`."""
    return f"password-of-{email}"


def logged_in(client: httpx.Client, email: str, password: str) -> httpx.Client:
    """`client`, logged in: its requests carry the user's bearer token."""
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


class UserFactory:
    """Creates users of a given role and hands back clients logged in as them."""

    def __init__(self, base_url: str, admin: httpx.Client) -> None:
        self.base_url, self.admin, self.clients = base_url, admin, list[httpx.Client]()

    def __call__(self, role: Role, email: str | None = None) -> httpx.Client:
        email = email or f"{role}-{len(self.clients)}@example.com"
        password = password_of(email)
        response = self.admin.post(
            "/user/create-user", json={"email": email, "password": password, "role": role}
        )
        assert response.status_code == 201, response.text
        client = httpx.Client(base_url=self.base_url, timeout=30)
        self.clients.append(client)
        return logged_in(client, email, password)

    def close(self) -> None:
        for client in self.clients:
            client.close()
