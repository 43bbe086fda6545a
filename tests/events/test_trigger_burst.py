"""A trigger's template and burst, as pure functions: what a run is sent, how a burst's
events are grouped into runs, and when a burst is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dtbase.backend.errors import Unprocessable
from dtbase.backend.events.triggers_burst import (
    KEPT_EVENT_IDS,
    Event,
    add_events,
    check_template,
    fill,
    groups_of,
    is_due,
    possible_kinds,
)

T = datetime(2026, 12, 5, 12, tzinfo=UTC)
SECOND = timedelta(seconds=1)
READINGS = {"kind": ["readings.stored"]}


def _readings(sensor: str, first: str, last: str, count: int) -> dict[str, Any]:
    return {
        "sensor": sensor,
        "sensor_type": "thermo",
        "measure": ["temperature", "humidity"],
        "first": first,
        "last": last,
        "count": count,
    }


def test_a_lone_placeholder_keeps_the_value_and_text_gets_joined() -> None:
    meta = _readings("A", "2026-12-05T10:00:00Z", "2026-12-05T11:00:00Z", 7)
    template = {
        "sensors": "{sensor}",
        "measures": "{measure}",
        "count": "{count}",
        "note": "{sensor}: {measure} from {first}",
        "nested": [{"literal": "{{sensor}}", "k{sensor}": "{sensor_type}"}],
        "untouched": 3,
    }

    assert fill(template, meta) == {
        "sensors": "A",
        "measures": ["temperature", "humidity"],
        "count": 7,
        "note": "A: temperature,humidity from 2026-12-05T10:00:00Z",
        # Literal braces stay; keys are not filled.
        "nested": [{"literal": "{sensor}", "k{sensor}": "thermo"}],
        "untouched": 3,
    }


def test_a_missing_or_null_value_is_null_alone_and_empty_in_text() -> None:
    meta = {"model": "Arima", "scenario": None}

    assert fill({"s": "{scenario}", "t": "scenario={scenario}"}, meta) == {
        "s": None,
        "t": "scenario=",
    }


@pytest.mark.parametrize(
    ("template", "query", "message"),
    [
        ({"s": "{sensor"}, READINGS, "Braces do not pair up"),
        ({"s": "{sensor!r}"}, READINGS, "no format, conversion"),
        ({"s": "{first:%Y}"}, READINGS, "no format, conversion"),
        ({"s": "{sensor[0]}"}, READINGS, "no format, conversion"),
        ({"s": "{}"}, READINGS, "no format, conversion"),
        ({"s": ["{model}"]}, READINGS, "{model} is not metadata"),
        # No kind given: a sensor filter selects readings, model runs and sensor events,
        # and only `sensor` is in all of them.
        ({"s": "{first}"}, {"sensor": ["A"]}, "{first} is not metadata"),
    ],
)
def test_bad_templates_are_refused_with_the_reason(
    template: Any, query: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_template(template, query)

    assert message in str(refused.value)


def test_a_query_that_matches_no_kind_is_refused() -> None:
    assert possible_kinds({"kind": ["sensor.created"], "model": ["Arima"]}) == []
    with pytest.raises(Unprocessable, match="matches no event kind"):
        check_template({"m": "{model}"}, {"kind": ["sensor.created"], "model": ["Arima"]})


def test_the_kinds_a_query_can_match() -> None:
    assert possible_kinds({"sensor": ["A"]}) == [
        "readings.stored",
        "model_run.stored",
        "sensor.created",
        "sensor.deleted",
    ]
    check_template({"s": "{sensor}"}, {"sensor": ["A"]})
    # Model runs have no sensor type.
    with pytest.raises(Unprocessable, match=r"the keys they all have: sensor$"):
        check_template({"t": "{sensor_type}"}, {"sensor": ["A"]})


def _event(id_: int, meta: dict[str, Any], time: datetime = T) -> Event:
    return Event(id=id_, time=time, meta=meta)


def test_a_burst_makes_one_run_per_distinct_filled_parameters() -> None:
    template = {"sensors": "{sensor}", "from": "{first}", "to": "{last}", "n": "{count}"}
    events = [
        _event(1, _readings("A", "2026-12-05T10:00:00Z", "2026-12-05T10:30:00Z", 2)),
        _event(2, _readings("B", "2026-12-05T09:00:00Z", "2026-12-05T09:10:00Z", 1)),
        _event(3, _readings("A", "2026-12-05T08:00:00+00:00", "2026-12-05T09:00:00Z", 5)),
        _event(4, _readings("A", "2026-12-05T10:10:00Z", "2026-12-05T11:00:00Z", 1)),
    ]

    pending = add_events({}, template, events[:2])
    pending = add_events(pending, template, events[2:])  # a later look adds to the burst
    groups = {group.meta["sensor"]: group for group in groups_of(pending)}

    assert sorted(groups) == ["A", "B"]
    assert groups["A"].event_ids == [1, 3, 4]
    assert groups["A"].events == 3
    # The run covers the whole burst: earliest first, latest last, summed counts.
    assert fill(template, groups["A"].meta) == {
        "sensors": "A",
        "from": "2026-12-05T08:00:00+00:00",
        "to": "2026-12-05T11:00:00Z",
        "n": 8,
    }
    assert fill(template, groups["B"].meta)["n"] == 1


def test_without_a_template_a_burst_is_one_run() -> None:
    events = [
        _event(i, _readings(s, "2026-12-05T10:00:00Z", "2026-12-05T10:00:00Z", 1))
        for i, s in enumerate("ABC")
    ]

    [group] = groups_of(add_events({}, None, events))

    assert group.event_ids == [0, 1, 2]


def test_a_group_keeps_the_first_event_ids_and_counts_them_all() -> None:
    meta = _readings("A", "2026-12-05T10:00:00Z", "2026-12-05T10:00:00Z", 1)
    events = [_event(i, meta) for i in range(1, KEPT_EVENT_IDS + 51)]

    [group] = groups_of(add_events({}, {"s": "{sensor}"}, events))

    assert group.event_ids == list(range(1, KEPT_EVENT_IDS + 1))
    assert group.events == KEPT_EVENT_IDS + 50
    assert group.meta["count"] == KEPT_EVENT_IDS + 50


def test_a_burst_is_due_after_the_quiet_time_or_the_maximum_wait() -> None:
    def due(started: datetime, last: datetime, now: datetime) -> bool:
        return is_due(
            started_at=started,
            last_event_at=last,
            debounce_seconds=10,
            max_wait_seconds=60,
            now=now,
        )

    assert not due(T, T, T + 9 * SECOND)
    assert due(T, T, T + 10 * SECOND)
    # A steady stream: never quiet for 10 s, but due once the burst is 60 s old.
    assert not due(T, T + 55 * SECOND, T + 59 * SECOND)
    assert due(T, T + 55 * SECOND, T + 60 * SECOND)
    assert not is_due(
        started_at=None, last_event_at=None, debounce_seconds=0, max_wait_seconds=0, now=T
    )
