"""GRIB2 encoding of a run (one message per measure and timestamp) and decoding back.

A message starts from eccodes' `GRIB2` sample with ECMWF's local section (`centre=ecmf`,
local definition 24, which adds `channel` to local definition 1's keys), the run's MARS
keys (see `dtbase.fdb.mars`), one grid point and `grid_ieee` packing at `precision=2`,
so values are IEEE float64 and round-trip exactly. The run's creation time is the data
cut-off after the reference time (`hoursAfterDataCutoff`, `minutesAfterDataCutoff`).

- With a location the grid is a 1x1 `regular_ll` at the site (GRIB2 keeps micro-degrees;
  longitudes are written in [0, 360) and read back in [-180, 180)).
- Without one it is an `unstructured_grid` of one point: a field with no coordinates,
  read back as "no location". (Never ask eccodes for `latitudes` of these single-point
  grids: it aborts the process.)

eccodes takes about half a millisecond per message, far slower than FDB archives, so
eccodes encodes one template per measure and step unit (a clone of one handle per run
with the parameter set), and each message is that template with its step (4 bytes) and
its value (8 bytes) put in place. Every template proves the shortcut right when it is
made: patching its step and value must give the very bytes eccodes encodes for another
step and value, and the MARS keys eccodes decodes from it must be the keys its messages
are archived under.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import eccodes  # type: ignore[import-untyped]

from dtbase.fdb.errors import FdbError
from dtbase.fdb.mars import Keys, run_keys, step_key, step_seconds
from dtbase.fdb.registry import RunCodes
from dtbase.fdb.runs import Location, ModelRun, reference_time, seconds_after, validate_run

_STEP = struct.Struct(">I")
_VALUE = struct.Struct(">d")
# Step units: GRIB2 code table 4.4 value -> seconds.
_UNIT_SECONDS = {0: 60, 1: 3600, 2: 86_400, 10: 3 * 3600, 11: 6 * 3600, 12: 12 * 3600, 13: 1}
_PARAM_KEYS = ("param", "levtype")
_PROBES = ((123_457, -1234.5678901234567), (654_321, 9.876543210987654e-05))
LOCAL_DEFINITION = 24  # ECMWF's "satellite channel data": local definition 1 and `channel`


@dataclass(frozen=True, slots=True)
class EncodedMessage:
    """One GRIB2 message and the MARS keys to archive it under (FDB's canonical form)."""

    data: bytes
    keys: Keys


@dataclass(frozen=True, slots=True)
class DecodedField:
    """What dtbase reads back from one message."""

    param: int
    member: int | None
    reference_time: datetime
    step: int  # seconds
    value: float
    location: Location | None
    channel: int = 0
    cutoff: int = 0  # minutes from the reference time to the run's creation

    @property
    def valid_time(self) -> datetime:
        return self.reference_time + timedelta(seconds=self.step)

    @property
    def created(self) -> datetime:
        """The run's creation time, to the minute."""
        return self.reference_time + timedelta(minutes=self.cutoff)


def encode_run(run: ModelRun, codes: RunCodes) -> list[EncodedMessage]:
    """Every message of a run, in measure and point order; raises `InvalidRun` first."""
    validate_run(run)
    reference = run.reference_time
    base = run_keys(
        expver=codes.expver, member=codes.member, reference_time=reference, channel=codes.channel
    )
    cutoff = (reference_time(run.run_time) - reference) // timedelta(minutes=1)
    step_keys: dict[int, str] = {}
    pack_step, pack_value = _STEP.pack, _VALUE.pack
    messages: list[EncodedMessage] = []
    append = messages.append
    handle = _configured(base, run.location, cutoff)  # what all fields of the run share
    try:
        for measure in run.measures:
            param = codes.params.get((measure.name, measure.units))
            if param is None:
                raise FdbError(f"No paramId for measure {measure.name!r} [{measure.units}]")
            keys = {**base, "param": str(param)}
            templates: dict[int, tuple[bytes, bytes, bytes]] = {}
            for when, value in measure.points:
                seconds = seconds_after(reference, when)
                unit = 60 if seconds % 60 == 0 else 1
                parts = templates.get(unit)
                if parts is None:
                    parts = templates[unit] = _template(handle, keys, unit, every_key=not messages)
                step = step_keys.get(seconds)
                if step is None:
                    step = step_keys[seconds] = step_key(seconds)
                head, middle, tail = parts
                data = b"".join((head, pack_step(seconds // unit), middle, pack_value(value), tail))
                append(EncodedMessage(data, {**keys, "step": step}))
    finally:
        eccodes.codes_release(handle)
    return messages


def _template(
    run: Any, keys: Mapping[str, str], unit: int, *, every_key: bool
) -> tuple[bytes, bytes, bytes]:
    """A field's message split around its step and its value, from the run's handle.

    Checked when made: patching in another step and value must give the very bytes
    eccodes encodes for them, and eccodes must decode the archive keys from it (all of
    them from the run's first message; `param` and `levtype`, which depend on the
    parameter, from the others).
    """
    handle = eccodes.codes_clone(run)
    try:
        _set_param(handle, keys)
        # the second message: the same handle with another step and value
        first, second = (_point(handle, unit, step, value) for step, value in _PROBES)
        if every_key:
            found = mars_keys(first)
        else:
            found = {k: str(eccodes.codes_get_string(handle, f"mars.{k}")) for k in _PARAM_KEYS}
    finally:
        eccodes.codes_release(handle)
    step_at = _only(first, _STEP.pack(_PROBES[0][0]), "step")
    value_at = _only(first, _VALUE.pack(_PROBES[0][1]), "value")
    if not step_at + _STEP.size <= value_at:
        raise FdbError("GRIB template check failed: the value comes before the step")
    parts = (
        first[:step_at],
        first[step_at + _STEP.size : value_at],
        first[value_at + _VALUE.size :],
    )
    step, value = _PROBES[1]
    if b"".join((parts[0], _STEP.pack(step), parts[1], _VALUE.pack(value), parts[2])) != second:
        raise FdbError("GRIB template check failed: the message layout is not as expected")
    found.pop("step", None)
    expected = {k: v for k, v in keys.items() if k in found}
    if found != expected or (every_key and found.keys() != keys.keys() - {"step"}):
        raise FdbError(f"eccodes encodes {found} for the keys {expected}")
    return parts


def _encode(
    keys: Mapping[str, str],
    location: Location | None,
    unit: int,
    step: int,
    value: float,
    cutoff: int = 0,
) -> bytes:
    """One message encoded by eccodes from scratch."""
    handle = _configured(keys, location, cutoff)
    try:
        _set_param(handle, keys)
        return _point(handle, unit, step, value)
    finally:
        eccodes.codes_release(handle)


def _set_param(handle: Any, keys: Mapping[str, str]) -> None:
    try:
        eccodes.codes_set(handle, "paramId", int(keys["param"]))  # also sets the level
    except eccodes.CodesInternalError as error:
        raise FdbError(f"eccodes cannot encode a field with keys {dict(keys)}: {error}") from None


def _configured(keys: Mapping[str, str], location: Location | None, cutoff: int) -> Any:
    """A GRIB2 handle with what a run's fields share: all but param, step and value."""
    handle = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        for key, setting in (
            ("centre", "ecmf"),
            ("setLocalDefinition", 1),
            ("localDefinitionNumber", LOCAL_DEFINITION),
            ("class", keys["class"]),
            ("stream", keys["stream"]),
            ("type", keys["type"]),
            ("channel", int(keys["channel"])),
        ):
            eccodes.codes_set(handle, key, setting)
        if "number" in keys:
            eccodes.codes_set(handle, "productDefinitionTemplateNumber", 1)
            eccodes.codes_set(handle, "number", int(keys["number"]))
        hours, minutes = divmod(cutoff, 60)
        eccodes.codes_set(handle, "hoursAfterDataCutoff", hours)
        eccodes.codes_set(handle, "minutesAfterDataCutoff", minutes)
        eccodes.codes_set(handle, "expver", keys["expver"])
        eccodes.codes_set(handle, "dataDate", int(keys["date"]))
        eccodes.codes_set(handle, "dataTime", int(keys["time"]))
        if location is None:
            eccodes.codes_set(handle, "gridType", "unstructured_grid")
            eccodes.codes_set(handle, "numberOfDataPoints", 1)
        else:
            eccodes.codes_set(handle, "Ni", 1)
            eccodes.codes_set(handle, "Nj", 1)
            longitude = location.longitude % 360.0
            for edge in ("First", "Last"):
                eccodes.codes_set(handle, f"latitudeOf{edge}GridPointInDegrees", location.latitude)
                eccodes.codes_set(handle, f"longitudeOf{edge}GridPointInDegrees", longitude)
        eccodes.codes_set(handle, "packingType", "grid_ieee")
        eccodes.codes_set(handle, "precision", 2)
    except BaseException:
        eccodes.codes_release(handle)
        raise
    return handle


def _point(handle: Any, unit: int, step: int, value: float) -> bytes:
    """The message of a configured handle at a step (in `unit` seconds) and value."""
    eccodes.codes_set(handle, "stepUnits", "m" if unit == 60 else "s")
    eccodes.codes_set(handle, "step", step)
    eccodes.codes_set_values(handle, [value])
    return bytes(eccodes.codes_get_message(handle))


def _only(message: bytes, pattern: bytes, what: str) -> int:
    at = message.find(pattern)
    if at < 0 or message.find(pattern, at + 1) >= 0:
        raise FdbError(f"GRIB template check failed: cannot place the {what}")
    return at


def split_messages(data: bytes) -> list[bytes]:
    """The GRIB2 messages of a concatenation (what `fdb.retrieve` returns)."""
    messages = []
    at = 0
    while at < len(data):
        if data[at : at + 4] != b"GRIB" or data[at + 7] != 2:
            raise FdbError(f"Not a GRIB2 message at byte {at} of the retrieved data")
        length = int.from_bytes(data[at + 8 : at + 16], "big")
        messages.append(data[at : at + length])
        at += length
    return messages


def decode_message(data: bytes) -> DecodedField:
    """A single-point GRIB2 field as written by this module (or shaped like one)."""
    return _decode(data)[0]


def decode_messages(messages: Iterable[bytes]) -> list[DecodedField]:
    """Many fields: eccodes decodes the first of each shape (same keys but step and value);
    the others are read from the bytes of their step and value once the rest of their
    bytes are found equal to that first message's."""
    shapes: dict[tuple[int, int, bytes], tuple[DecodedField, int]] = {}
    layouts: set[tuple[int, int, int]] = set()
    fields = []
    for data in messages:
        for length, step_at, value_at in layouts:
            if len(data) != length:
                continue
            rest = data[:step_at] + data[step_at + 4 : value_at] + data[value_at + 8 :]
            shape = shapes.get((step_at, value_at, rest))
            if shape is not None:
                first, unit = shape
                step = _STEP.unpack_from(data, step_at)[0] * unit
                value = _VALUE.unpack_from(data, value_at)[0]
                fields.append(
                    DecodedField(
                        first.param,
                        first.member,
                        first.reference_time,
                        step,
                        value,
                        first.location,
                        first.channel,
                        first.cutoff,
                    )
                )
                break
        else:
            field, layout = _decode(data)
            fields.append(field)
            if layout is not None:
                step_at, value_at, unit = layout
                layouts.add((len(data), step_at, value_at))
                rest = data[:step_at] + data[step_at + 4 : value_at] + data[value_at + 8 :]
                shapes[(step_at, value_at, rest)] = (field, unit)
    return fields


def _decode(data: bytes) -> tuple[DecodedField, tuple[int, int, int] | None]:
    """The field and, when they can be read from bytes, the offsets of its step and value
    and the seconds of its step unit."""
    handle = eccodes.codes_new_from_message(data)
    try:
        get = eccodes.codes_get_long
        unit = int(get(handle, "indicatorOfUnitOfTimeRange"))
        if unit not in _UNIT_SECONDS:
            raise FdbError(f"Unsupported step unit (GRIB2 table 4.4 code {unit})")
        values = eccodes.codes_get_double_array(handle, "values")
        if len(values) != 1:
            raise FdbError(f"Not a single-point field ({len(values)} values)")
        member = None
        if str(eccodes.codes_get_string(handle, "type")) == "pf":
            member = int(get(handle, "number"))
        date, time = int(get(handle, "dataDate")), int(get(handle, "dataTime"))
        forecast_time = int(get(handle, "forecastTime"))
        field = DecodedField(
            param=int(get(handle, "paramId")),
            member=member,
            reference_time=datetime(
                date // 10000, date // 100 % 100, date % 100, time // 100, time % 100, tzinfo=UTC
            ),
            step=forecast_time * _UNIT_SECONDS[unit],
            value=float(values[0]),
            location=_location(handle),
            channel=_optional_long(handle, "channel"),
            cutoff=_cutoff(handle),
        )
        layout = None
        if (
            str(eccodes.codes_get_string(handle, "packingType")) == "grid_ieee"
            and int(get(handle, "precision")) == 2
            and int(get(handle, "section7Length")) == 5 + _VALUE.size
        ):
            step_at = int(eccodes.codes_get_offset(handle, "forecastTime"))
            value_at = int(get(handle, "offsetSection7")) + 5
            if (
                step_at + _STEP.size <= value_at
                and _STEP.unpack_from(data, step_at)[0] == forecast_time
                and data[value_at : value_at + _VALUE.size] == _VALUE.pack(field.value)
            ):
                layout = (step_at, value_at, _UNIT_SECONDS[unit])
        return field, layout
    finally:
        eccodes.codes_release(handle)


def _optional_long(handle: object, key: str) -> int:
    """A key of the message, 0 where its local definition has no such key."""
    if not eccodes.codes_is_defined(handle, key) or eccodes.codes_is_missing(handle, key):
        return 0
    return int(eccodes.codes_get_long(handle, key))


def _cutoff(handle: object) -> int:
    """Minutes of data cut-off after the reference time (0 where the message has none)."""
    hours = _optional_long(handle, "hoursAfterDataCutoff")
    return hours * 60 + _optional_long(handle, "minutesAfterDataCutoff")


def _location(handle: object) -> Location | None:
    grid = str(eccodes.codes_get_string(handle, "gridType"))
    if grid == "unstructured_grid":
        return None
    if grid != "regular_ll":
        raise FdbError(f"Unsupported grid type {grid!r}")
    latitude = float(eccodes.codes_get_double(handle, "latitudeOfFirstGridPointInDegrees"))
    longitude = float(eccodes.codes_get_double(handle, "longitudeOfFirstGridPointInDegrees"))
    if longitude >= 180.0:
        longitude -= 360.0
    return Location(round(latitude, 6), round(longitude, 6))


def mars_keys(data: bytes) -> Keys:
    """The MARS keys eccodes decodes from a message (what FDB indexes it by), `step` in
    FDB's canonical form (eccodes says `75m` or `0m` where FDB says `1h15m` or `0`)."""
    handle = eccodes.codes_new_from_message(data)
    try:
        iterator = eccodes.codes_keys_iterator_new(handle, "mars")
        keys: Keys = {}
        try:
            while eccodes.codes_keys_iterator_next(iterator):
                name = str(eccodes.codes_keys_iterator_get_name(iterator))
                keys[name] = str(eccodes.codes_get_string(handle, name))
        finally:
            eccodes.codes_keys_iterator_delete(iterator)
    finally:
        eccodes.codes_release(handle)
    if "step" in keys:
        keys["step"] = step_key(step_seconds(keys["step"]))
    return keys
