from __future__ import annotations

import re

import httpx


def test_docs_page_loads_only_assets_served_by_the_backend(anonymous: httpx.Client) -> None:
    page = anonymous.get("/docs")

    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/"), f"{source} is not served by the backend"
        assert anonymous.get(source).status_code == 200, source
    assert "https://" not in page.text


def test_openapi_documents_auth_and_user_operations(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/openapi.json").json()

    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert {
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("GET", "/user/list-users"),
        ("POST", "/user/create-user"),
        ("POST", "/user/delete-user"),
        ("POST", "/user/change-password"),
        ("GET", "/user/list-users-details"),
        ("POST", "/user/set-role"),
    } <= operations
    create_user = schema["paths"]["/user/create-user"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(create_user["responses"])


def test_every_operation_documents_its_models_and_errors(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/openapi.json").json()
    undocumented = []
    for path, item in schema["paths"].items():
        if path in {"/auth/login", "/health"}:
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            success = next(code for code in responses if code.startswith("2"))
            expected = {"401"} | ({"403"} if not path.startswith("/auth") else set())
            if "requestBody" in operation:
                expected.add("422")
            if not expected <= set(responses) or "content" not in responses[success]:
                undocumented.append((method, path, sorted(responses)))
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    undocumented.append((method, path, code))

    assert undocumented == []
