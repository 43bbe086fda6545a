"""Schedules for the schedulers of the backends under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx


def schedule_soon(admin: httpx.Client, service_url: str, count: int) -> None:
    """A service `svc` at `service_url` and `count` schedules of it, due once each in the
    next seconds (50 ms apart), then hourly; each run's parameters carry its number."""
    service = {"name": "svc", "url": service_url, "http_method": "POST"}
    response = admin.post("/service/insert-service", json=service)
    assert response.status_code == 201, response.text
    due = datetime.now(UTC) + timedelta(seconds=1)
    for number in range(count):
        schedule = {
            "service_name": "svc",
            "name": f"s{number}",
            "interval_seconds": 3600,
            "start_at": (due + timedelta(milliseconds=50 * number)).isoformat(),
            "parameters": {"number": number},
        }
        response = admin.post("/service/insert-schedule", json=schedule)
        assert response.status_code == 201, response.text
