"""What a device publishes, read into readings: SenML JSON (RFC 8428) or the plain form.

The plain form is what ThingsBoard's device API users write:
`{"ts": <ISO 8601 or epoch ms>, "values": {"<measure>": value}}`, or a list of those.
SenML is a JSON array of records; base fields (`bn`, `bt`, `bu`, `bv`) carry over to the
records after them. Either way a reading without a time gets the receive time.

Nothing here knows the sensors: which measure a name means, and whether the value fits
its datatype, is the catalog's business (`dtbase.mqtt.catalog`).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from dtbase.schemas.values import Scalar

# RFC 8428, section 4.5.3: a SenML time below 2**28 seconds is relative to now.
SENML_RELATIVE_BELOW = 2**28
# Epoch milliseconds of 9999-12-31, the last day datetime holds.
MAX_EPOCH_MS = 253_402_214_400_000
MAX_EPOCH_S = MAX_EPOCH_MS / 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Record(NamedTuple):
    """One reading as published: the measure by name (and units, if the payload says).
    `bare_name` is a SenML record's `n` without its base name: devices often put their own
    identifier in `bn` (RFC 8428's examples do), and that is not part of the measure."""

    name: str
    units: str | None
    value: Scalar
    timestamp: datetime
    bare_name: str | None = None


class BadMessage(ValueError):
    """A message that cannot be stored. `cause` is a short fixed kind (counted, logged once
    per kind); `str(error)` is the reason the device is told."""

    def __init__(self, cause: str, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause


def parse(payload: bytes | bytearray, received_at: datetime) -> list[Record]:
    """The readings of a message, in the order given; BadMessage when it is not one of the
    two forms (an empty list of readings is a bad message too: nothing would be stored)."""
    document = _loads(payload)
    if isinstance(document, dict):
        records = _plain([document], received_at)
    elif isinstance(document, list) and document and all(isinstance(d, dict) for d in document):
        is_senml = any(_is_senml(d) for d in document)
        records = _senml(document, received_at) if is_senml else _plain(document, received_at)
    else:
        raise BadMessage(
            "bad_form", 'expected SenML (a JSON array of records) or {"ts": ..., "values": {...}}'
        )
    if not records:
        raise BadMessage("bad_form", "the message holds no readings")
    return records


def _loads(payload: bytes | bytearray) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        problem = error
    # orjson refuses NaN, Infinity and 1e400; Python's reader takes them, so that the
    # device hears "not finite" rather than "not JSON" (the values are refused below).
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        raise BadMessage("not_json", f"not JSON: {problem}") from None


SENML_FIELDS = frozenset({"bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vs", "vb", "vd", "t"})


def _is_senml(record: dict[str, Any]) -> bool:
    return "values" not in record and bool(SENML_FIELDS.intersection(record))


def _plain(documents: list[Any], received_at: datetime) -> list[Record]:
    records: list[Record] = []
    for document in documents:
        values = document.get("values")
        if not isinstance(values, dict) or set(document) - {"ts", "values"}:
            raise BadMessage(
                "bad_form",
                'expected {"ts": <ISO 8601 or epoch ms>, "values": {"<measure>": value}} or SenML',
            )
        timestamp = _plain_time(document["ts"]) if "ts" in document else received_at
        for name, value in values.items():
            records.append(Record(name, None, _scalar(name, value), timestamp))
    return records


def _plain_time(ts: Any) -> datetime:
    if isinstance(ts, int) and not isinstance(ts, bool) and 0 <= ts <= MAX_EPOCH_MS:
        return EPOCH + timedelta(milliseconds=ts)
    if isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise BadMessage("bad_time", f"ts {ts!r}: give an ISO 8601 time or epoch milliseconds")


# The fields that set or change the base values for the records that follow.
BASE_FIELDS = frozenset({"bn", "bt", "bu", "bv", "bver"})
VALUE_FIELDS = ("v", "vs", "vb", "vd")
# The record most messages are made of (with "v": a number, "t": absolute with `bt`).
COMMON_RECORD = frozenset({"n", "v", "t"})
NUMBER = (int, float)


def _senml(documents: list[dict[str, Any]], received_at: datetime) -> list[Record]:
    base_name, base_time, base_units, base_value = "", 0.0, None, 0.0
    records: list[Record] = []
    for index, record in enumerate(documents):
        # A message of 100 readings is mostly records of a name, a number and a time:
        # those take a path with no calls (the checks of `_record`, inline).
        if record.keys() <= COMMON_RECORD and "v" in record and not base_value:
            own_name, value, offset = record.get("n", ""), record["v"], record.get("t", 0.0)
            if (
                type(own_name) is str
                and (own_name or base_name)
                and (type(value) is int or (type(value) is float and math.isfinite(value)))
                and type(offset) in NUMBER
                and -MAX_EPOCH_S < offset < MAX_EPOCH_S
                and SENML_RELATIVE_BELOW <= base_time + offset < MAX_EPOCH_S
            ):
                moment = datetime.fromtimestamp(base_time + offset, UTC)
                bare = own_name if base_name and own_name else None
                records.append(Record(base_name + own_name, base_units, value, moment, bare))
                continue
        if not BASE_FIELDS.isdisjoint(record):
            where = f"record {index}"
            base_name = _field(record, "bn", str, where, base_name)
            base_time = _number(record, "bt", where, base_time)
            base_units = _field(record, "bu", str, where, base_units)
            base_value = _number(record, "bv", where, base_value)
        bases = (base_name, base_time, base_units, base_value)
        reading = _record(record, index, bases, received_at)
        if reading is not None:
            records.append(reading)
    return records


def _record(
    record: dict[str, Any],
    index: int,
    bases: tuple[str, float, str | None, float],
    received_at: datetime,
) -> Record | None:
    """A SenML record as a reading, with the base values in force (None: a record of base
    fields only)."""
    base_name, base_time, base_units, base_value = bases
    where = f"record {index}"
    own_name = _field(record, "n", str, where, "")
    name = base_name + own_name
    units = _field(record, "u", str, where, base_units)
    given = [key for key in VALUE_FIELDS if key in record]
    if not given and "bn" not in record and "bt" not in record:
        raise BadMessage("bad_form", f"{where}: no value (v, vs or vb)")
    if not given:
        return None
    if len(given) > 1 or given == ["vd"]:
        raise BadMessage("bad_form", f"{where}: give exactly one of v, vs, vb")
    if not name:
        raise BadMessage("bad_form", f"{where}: no name (n or bn)")
    value = _senml_value(record, given[0], base_value, where)
    seconds = base_time + _number(record, "t", where, 0.0) if "t" in record else base_time
    timestamp = _senml_time(seconds, received_at, where)
    bare = own_name if base_name and own_name else None
    return Record(name, units, value, timestamp, bare)


def _senml_value(record: dict[str, Any], key: str, base_value: float, where: str) -> Scalar:
    value = record[key]
    if key == "v":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadMessage("wrong_datatype", f"{where}: v must be a number, got {value!r}")
        if not base_value:
            return _finite(where, value)
        return _finite(where, base_value + _number(record, "v", where, 0.0))
    expected = str if key == "vs" else bool
    if not isinstance(value, expected):
        raise BadMessage("wrong_datatype", f"{where}: {key} must be a {expected.__name__}")
    return value


def _senml_time(seconds: float, received_at: datetime, where: str) -> datetime:
    try:
        if seconds == 0:
            return received_at
        if seconds < SENML_RELATIVE_BELOW:
            return received_at + timedelta(seconds=seconds)
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError) as error:
        raise BadMessage("bad_time", f"{where}: time {seconds!r} is out of range") from error


def _field(record: dict[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
    if key not in record:
        return default
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise BadMessage("bad_form", f"{where}: {key} must be a {kind.__name__}")
    return value


def _number(record: dict[str, Any], key: str, where: str, default: float) -> float:
    value = record.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage("bad_form", f"{where}: {key} must be a number")
    try:
        return float(_finite(where, value))
    except OverflowError:  # an integer of hundreds of digits
        raise BadMessage("not_finite", f"{where}: {key} is too large") from None


def _scalar(name: str, value: Any) -> Scalar:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _finite(name, value)
    raise BadMessage("wrong_datatype", f"{name}: {value!r} is not a number, string or boolean")


def _finite(where: str, value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadMessage("not_finite", f"{where}: {value!r} is not a finite number")
    return value
