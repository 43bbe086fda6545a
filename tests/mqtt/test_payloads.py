"""`payloads.parse` on its own: both forms, every datatype, and each kind of bad message
with the reason the device is told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dtbase.mqtt.payloads import BadMessage, Record, parse

RECEIVED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_S = T0.timestamp()
T0_MS = int(T0_S * 1000)
HUGE = "1" + "0" * 400  # an integer JSON holds and no float does


def parsed(document: Any) -> list[Record]:
    return parse(json.dumps(document).encode(), RECEIVED)


# --- the plain form ---


def test_plain_values_of_every_datatype_share_the_time() -> None:
    document = {"ts": T0_MS, "values": {"t": 21.5, "n": 3, "open": True, "state": "ok"}}
    assert parsed(document) == [
        Record("t", None, 21.5, T0),
        Record("n", None, 3, T0),
        Record("open", None, True, T0),
        Record("state", None, "ok", T0),
    ]


@pytest.mark.parametrize(
    ("ts", "moment"),
    [
        (T0_MS + 1500, T0 + timedelta(milliseconds=1500)),
        ("2026-01-01T00:00:01Z", T0 + timedelta(seconds=1)),
        ("2026-01-01T02:00:01+02:00", T0 + timedelta(seconds=1)),
        ("2026-01-01T00:00:01", T0 + timedelta(seconds=1)),  # no zone: UTC
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_plain_times_are_iso_8601_or_epoch_milliseconds(ts: Any, moment: datetime) -> None:
    [record] = parsed({"ts": ts, "values": {"x": 1.0}})
    assert record.timestamp == moment
    assert record.timestamp.utcoffset() == timedelta(0)


def test_a_list_of_plain_documents_keeps_its_order_and_a_missing_ts_is_the_receive_time() -> None:
    records = parsed([{"ts": T0_MS, "values": {"x": 1.0}}, {"values": {"x": 2.0, "y": 3.0}}])
    assert [(r.name, r.value, r.timestamp) for r in records] == [
        ("x", 1.0, T0),
        ("x", 2.0, RECEIVED),
        ("y", 3.0, RECEIVED),
    ]


# --- SenML ---


def test_senml_base_fields_carry_over_to_the_records_after_them() -> None:
    records = parsed(
        [
            {"bn": "urn:dev:S1:", "bt": T0_S, "bu": "degC", "n": "temp", "v": 21.5},
            {"n": "count", "u": "", "v": 3, "t": 1},
            {"n": "door", "vb": False, "t": 2},
            {"n": "state", "vs": "ok", "t": 2.5},
        ]
    )
    assert records == [
        Record("urn:dev:S1:temp", "degC", 21.5, T0, "temp"),
        Record("urn:dev:S1:count", "", 3, T0 + timedelta(seconds=1), "count"),
        Record("urn:dev:S1:door", "degC", False, T0 + timedelta(seconds=2), "door"),
        Record("urn:dev:S1:state", "degC", "ok", T0 + timedelta(seconds=2.5), "state"),
    ]


def test_a_senml_base_value_is_added_to_each_number() -> None:
    records = parsed([{"bv": 100, "bt": T0_S, "n": "x", "v": 1.5}, {"n": "x", "v": 2, "t": 1}])
    assert [r.value for r in records] == [101.5, 102.0]


def test_senml_names_may_come_from_the_base_name_alone() -> None:
    [record] = parsed([{"bn": "temperature", "bt": T0_S, "v": 20.0}])
    assert (record.name, record.bare_name, record.timestamp) == ("temperature", None, T0)


@pytest.mark.parametrize(
    ("times", "moment"),
    [
        ({}, RECEIVED),  # no time: the receive time
        ({"t": -5}, RECEIVED - timedelta(seconds=5)),  # RFC 8428: relative to now
        ({"t": T0_S}, T0),
        ({"bt": T0_S - 10, "t": 10}, T0),
    ],
)
def test_senml_times_are_absolute_or_relative_to_the_receive_time(
    times: dict[str, float], moment: datetime
) -> None:
    [record] = parsed([{"n": "x", "v": 1.0, **times}])
    assert record.timestamp == moment


def test_a_senml_record_of_base_fields_only_holds_no_reading() -> None:
    records = parsed([{"bn": "dev:", "bt": T0_S}, {"n": "x", "v": 1.0}])
    assert records == [Record("dev:x", None, 1.0, T0, "x")]


def test_the_common_senml_record_reads_as_the_general_one() -> None:
    """100 records of a name, a number and a time take a short path: what it gives must be
    what the general path gives (here forced by a unit on every record)."""
    common = [{"n": "x", "v": float(i), "t": T0_S + i} for i in range(100)]
    common[3]["v"] = 7  # an integer stays one
    general = [{**record, "u": "m"} for record in common]
    assert [r._replace(units="m") for r in parsed(common)] == parsed(general)


# --- bad messages: each with its cause and a reason that says what is wrong ---

BAD = [
    (b"{not json", "not_json", "not JSON"),
    (b"", "not_json", "not JSON"),
    (b"[" * 100_000, "not_json", "not JSON"),
    (b'"just a string"', "bad_form", "expected SenML"),
    (b"[]", "bad_form", "expected SenML"),
    (b"[1, 2]", "bad_form", "expected SenML"),
    (b"null", "bad_form", "expected SenML"),
    (b'{"values": {}}', "bad_form", "holds no readings"),
    (b'{"ts": 1, "values": {"x": 1}, "id": 3}', "bad_form", "expected {"),
    (b'{"values": [1, 2]}', "bad_form", "expected {"),
    (b'[{"values": {"x": 1}}, {"n": "x", "v": 1}]', "bad_form", "record 0: no value"),
    (b'[{"n": "x"}]', "bad_form", "record 0: no value"),
    (b'[{"n": "x", "v": 1, "vs": "a"}]', "bad_form", "exactly one of v, vs, vb"),
    (b'[{"n": "x", "vd": "AQ=="}]', "bad_form", "exactly one of v, vs, vb"),
    (b'[{"v": 1}]', "bad_form", "record 0: no name"),
    (b'[{"n": "x", "v": 1}, {"n": 5, "v": 1}]', "bad_form", "record 1: n must be a str"),
    (b'[{"bn": true, "n": "x", "v": 1}]', "bad_form", "bn must be a str"),
    (b'[{"n": "x", "v": 1, "t": "now"}]', "bad_form", "t must be a number"),
    (b'[{"bt": true, "n": "x", "v": 1}]', "bad_form", "bt must be a number"),
    (b'[{"n": "x", "v": NaN}]', "not_finite", "not a finite number"),
    (b'[{"n": "x", "v": Infinity}]', "not_finite", "not a finite number"),
    (b'[{"n": "x", "v": 1e400}]', "not_finite", "not a finite number"),
    (b'{"values": {"x": 1e400}}', "not_finite", "x: inf is not a finite number"),
    (b'[{"n": "x", "v": 1e308, "bv": 1e308}]', "not_finite", "not a finite number"),
    (b'[{"n": "x", "v": 1, "t": ' + HUGE.encode() + b"}]", "not_finite", "t is too large"),
    (b'[{"bt": ' + HUGE.encode() + b', "n": "x", "v": 1}]', "not_finite", "bt is too large"),
    (b'[{"bv": 1, "n": "x", "v": ' + HUGE.encode() + b"}]", "not_finite", "v is too large"),
    (b'[{"n": "x", "v": "1"}]', "wrong_datatype", "v must be a number"),
    (b'[{"n": "x", "v": true}]', "wrong_datatype", "v must be a number"),
    (b'[{"n": "x", "vs": 1}]', "wrong_datatype", "vs must be a str"),
    (b'[{"n": "x", "vb": "yes"}]', "wrong_datatype", "vb must be a bool"),
    (b'{"values": {"x": null}}', "wrong_datatype", "is not a number, string or boolean"),
    (b'{"values": {"x": [1]}}', "wrong_datatype", "is not a number, string or boolean"),
    (b'{"ts": "yesterday", "values": {"x": 1}}', "bad_time", "ISO 8601 time or epoch"),
    (b'{"ts": -1, "values": {"x": 1}}', "bad_time", "ISO 8601 time or epoch"),
    (b'{"ts": 1.5, "values": {"x": 1}}', "bad_time", "ISO 8601 time or epoch"),
    (b'{"ts": true, "values": {"x": 1}}', "bad_time", "ISO 8601 time or epoch"),
    (b'{"ts": 253402214400001, "values": {"x": 1}}', "bad_time", "ISO 8601 time or epoch"),
    (b'[{"n": "x", "v": 1, "t": 1e300}]', "bad_time", "record 0: time 1e+300 is out of range"),
]


@pytest.mark.parametrize(("payload", "cause", "reason"), BAD)
def test_each_bad_message_has_its_cause_and_reason(payload: bytes, cause: str, reason: str) -> None:
    with pytest.raises(BadMessage) as raised:
        parse(payload, RECEIVED)
    assert raised.value.cause == cause
    assert reason in str(raised.value)


def test_every_cause_the_parser_gives_is_covered() -> None:
    assert {cause for _, cause, _ in BAD} == {
        "not_json",
        "bad_form",
        "not_finite",
        "wrong_datatype",
        "bad_time",
    }
