"""A traffic report the backend did not take is sent again, added to what came after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dtbase.mqtt.bridge import RECENT_ERRORS, Traffic

AT = datetime(2026, 12, 5, tzinfo=UTC)


def error(number: int) -> dict[str, str]:
    return {"cause": "not_json", "reason": f"error {number}", "received_at": AT.isoformat()}


def test_unreported_traffic_followed_by_newer() -> None:
    unreported = Traffic(last_message_at=AT, messages=3, errors=6)
    unreported.recent_errors.extend(error(n) for n in range(6))
    newer = Traffic(last_message_at=AT + timedelta(seconds=2), messages=2, errors=6)
    newer.recent_errors.extend(error(n) for n in range(6, 12))

    merged = unreported.merged(newer).as_report("S1")

    assert merged["messages"] == 5
    assert merged["errors"] == 12
    assert merged["last_message_at"] == AT + timedelta(seconds=2)
    assert [e["reason"] for e in merged["recent_errors"]] == [
        f"error {n}" for n in range(12 - RECENT_ERRORS, 12)
    ]


def test_newer_traffic_without_messages_keeps_the_last_message_time() -> None:
    merged = Traffic(last_message_at=AT, messages=1).merged(Traffic(errors=1))
    assert (merged.last_message_at, merged.messages, merged.errors) == (AT, 1, 1)
    assert Traffic(messages=1).merged(None).messages == 1
