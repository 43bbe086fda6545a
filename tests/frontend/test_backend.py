"""How backend answers are turned into messages."""

from __future__ import annotations

from typing import Any

import pytest

from dtbase.client import describe


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        ("User already exists", "User already exists"),
        (
            [
                {"loc": ["body", "email"], "msg": "not a valid email address"},
                {"loc": ["body", "readings", 2], "msg": "Input should be a valid number"},
            ],
            "email: not a valid email address; readings.2: Input should be a valid number",
        ),
        ([{"msg": "Field required"}], "Field required"),
        (["plain", 3], "plain; 3"),
        ({"unexpected": "shape"}, "{'unexpected': 'shape'}"),
    ],
)
def test_describe(detail: Any, message: str) -> None:
    assert describe(detail) == message
