"""GRIB2 messages: keys, validity times, values and coordinates, checked with eccodes and FDB."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import eccodes  # type: ignore[import-untyped]
import pytest

from dtbase.fdb import (
    FdbError,
    FdbStore,
    Location,
    MeasureSeries,
    ModelRun,
    RunCodes,
    decode_message,
    decode_messages,
    encode_run,
    mars_keys,
    split_messages,
)
from dtbase.fdb.grib import _encode
from dtbase.fdb.mars import step_seconds
from dtbase.fdb.registry import EXPERIMENTAL_PARAMS, STANDARD_PARAMS
from tests.fdb.factories import LONDON, RUN_TIME, make_run

CODES = RunCodes("d001", 3, {("temperature", "K"): 167, ("soil moisture", "m3 m-3"): 212001})
PLAIN = RunCodes("d002", None, CODES.params)


@pytest.mark.parametrize(
    ("run", "codes"),
    [
        (make_run(), CODES),
        (make_run(scenario=None), PLAIN),
        (make_run(location=LONDON), CODES),
        (make_run(run_time=datetime(2023, 12, 31, 23, 59, tzinfo=UTC)), CODES),
    ],
    ids=["scenario", "no scenario", "location", "run before midnight"],
)
def test_keys_decoded_from_each_message_equal_its_archive_keys(
    run: ModelRun, codes: RunCodes
) -> None:
    messages = encode_run(run, codes)

    assert len(messages) == sum(len(m.points) for m in run.measures)
    for message in messages:
        assert mars_keys(message.data) == message.keys


def test_fdb_parses_the_keys_we_archive_under(tmp_path: Path) -> None:
    messages = encode_run(make_run(location=LONDON), CODES) + encode_run(make_run(), PLAIN)
    given = FdbStore(data_dir=tmp_path / "given")
    parsed = FdbStore(data_dir=tmp_path / "parsed")
    given.archive(messages)
    given.flush()
    for message in messages:  # no identifier: FDB takes the keys from the GRIB
        parsed._fdb.archive(message.data)
    parsed.flush()

    expected = sorted(sorted(m.keys.items()) for m in messages)
    assert sorted(sorted(k.items()) for k in parsed.list({"class": "rd"})) == expected
    assert sorted(sorted(k.items()) for k in given.list({"class": "rd"})) == expected


def test_validity_times_decoded_by_eccodes() -> None:
    run = make_run(run_time=datetime(2023, 12, 31, 23, 30, tzinfo=UTC))
    messages = encode_run(run, CODES)
    times = [when for measure in run.measures for when, _ in measure.points]

    for message, when in zip(messages, times, strict=True):
        handle = eccodes.codes_new_from_message(message.data)
        try:
            validity = (
                eccodes.codes_get_long(handle, "validityDate"),
                eccodes.codes_get_long(handle, "validityTime"),
            )
            reference = (
                eccodes.codes_get_long(handle, "dataDate"),
                eccodes.codes_get(handle, "dataTime"),
            )
        finally:
            eccodes.codes_release(handle)
        assert validity == (int(f"{when:%Y%m%d}"), int(f"{when:%H%M}"))
        assert reference == (20231231, 2330)
        assert decode_message(message.data).valid_time == when
        assert RUN_TIME.tzinfo is UTC
        expected = step_seconds(message.keys["step"])
        assert run.reference_time + timedelta(seconds=expected) == when


SPECIAL = [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -math.pi, 0.1]


def test_float64_values_are_exact_bit_for_bit() -> None:
    points = [(RUN_TIME + timedelta(minutes=i), v) for i, v in enumerate(SPECIAL)]
    run = ModelRun("m", None, RUN_TIME, [MeasureSeries("x", "1", points)])

    decoded = [decode_message(m.data).value for m in encode_run(run, PLAIN_X)]

    assert [struct.pack(">d", v) for v in decoded] == [struct.pack(">d", v) for v in SPECIAL]


PLAIN_X = RunCodes("d003", None, {("x", "1"): 80})


def test_a_location_is_the_grid_point() -> None:
    message = encode_run(make_run(location=LONDON), CODES)[0]
    handle = eccodes.codes_new_from_message(message.data)
    try:
        grid = eccodes.codes_get_string(handle, "gridType")
        latitude = eccodes.codes_get_double(handle, "latitudeOfFirstGridPointInDegrees")
        longitude = eccodes.codes_get_double(handle, "longitudeOfFirstGridPointInDegrees")
    finally:
        eccodes.codes_release(handle)

    assert grid == "regular_ll"
    assert (latitude, longitude) == pytest.approx((51.5072, 360 - 0.1276), abs=1e-6)
    assert decode_message(message.data).location == LONDON


def test_without_location_the_field_has_no_coordinates() -> None:
    message = encode_run(make_run(), CODES)[0]
    handle = eccodes.codes_new_from_message(message.data)
    try:
        grid = eccodes.codes_get_string(handle, "gridType")
        has_latitude = eccodes.codes_is_defined(handle, "latitudeOfFirstGridPointInDegrees")
    finally:
        eccodes.codes_release(handle)

    assert grid == "unstructured_grid"
    assert not has_latitude
    assert decode_message(message.data).location is None


@pytest.mark.parametrize("location", [None, LONDON, Location(-33.9, 151.2)])
def test_patched_messages_equal_messages_encoded_by_eccodes(location: Location | None) -> None:
    run = make_run(location=location)
    messages = encode_run(run, CODES)
    points = [(m, when, value) for m in run.measures for when, value in m.points]

    for message, (measure, when, value) in zip(messages, points, strict=True):
        seconds = int((when - run.reference_time).total_seconds())
        unit = 60 if seconds % 60 == 0 else 1
        keys = {**message.keys, "param": str(CODES.params[(measure.name, measure.units)])}
        assert message.data == _encode(keys, location, unit, seconds // unit, value)


def test_split_messages_and_refuse_other_data() -> None:
    messages = encode_run(make_run(), CODES)

    assert split_messages(b"".join(m.data for m in messages)) == [m.data for m in messages]
    with pytest.raises(FdbError, match="Not a GRIB2 message at byte 0"):
        split_messages(b"BUFR" + bytes(20))


def test_an_unknown_param_id_is_refused_before_writing() -> None:
    codes = RunCodes("d001", None, {("temperature", "K"): 999_999, ("soil moisture", "m3 m-3"): 80})

    with pytest.raises(FdbError, match=r"eccodes cannot encode .*'param': '999999'"):
        encode_run(make_run(scenario=None), codes)


def test_decoding_many_equals_decoding_each() -> None:
    messages = [
        m.data
        for run, codes in (
            (make_run(location=LONDON), CODES),
            (make_run(scenario=None), PLAIN),
            (make_run(run_time=datetime(2020, 2, 29, 0, 1, tzinfo=UTC)), CODES),
        )
        for m in encode_run(run, codes)
    ]
    messages.reverse()

    assert decode_messages(messages) == [decode_message(m) for m in messages]


def test_longitudes_come_back_between_minus_180_and_180() -> None:
    east = encode_run(make_run(location=Location(-33.865, 200.0)), CODES)[0]

    assert decode_message(east.data).location == Location(-33.865, -160.0)


def test_every_standard_and_experimental_code_encodes_as_itself() -> None:
    params = [s.param for s in STANDARD_PARAMS] + list(EXPERIMENTAL_PARAMS)
    points = [(RUN_TIME + timedelta(minutes=15), 1.5)]
    run = ModelRun(
        "m", "s", RUN_TIME, [MeasureSeries(f"x{p}", "1", points) for p in params], LONDON
    )
    codes = RunCodes("d001", 1, {(f"x{p}", "1"): p for p in params})

    messages = encode_run(run, codes)  # each template checks its keys with eccodes

    assert [decode_message(m.data).param for m in messages] == params
    handle = eccodes.codes_new_from_message(messages[0].data)
    try:
        assert eccodes.codes_get_string(handle, "shortName") == "2t"
        assert eccodes.codes_get_long(handle, "level") == 2
    finally:
        eccodes.codes_release(handle)
