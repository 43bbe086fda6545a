from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from dtbase.schemas.common import UtcDatetime, UtcDatetimes
from dtbase.schemas.values import ValueDatatype, ValueType, ValueTypeError, check_value

VALUES = TypeAdapter(list[ValueType])


def test_json_tokens_keep_their_types() -> None:
    assert [type(v) for v in VALUES.validate_json('[3, 3.0, true, "3"]')] == [int, float, bool, str]


@pytest.mark.parametrize(
    ("datatype", "value", "stored"),
    [
        (ValueDatatype.float, 3, 3.0),
        (ValueDatatype.float, 2.5, 2.5),
        (ValueDatatype.integer, -7, -7),
        (ValueDatatype.boolean, False, False),
        (ValueDatatype.string, "", ""),
    ],
)
def test_accepted_values(datatype: ValueDatatype, value: object, stored: object) -> None:
    result = check_value(datatype, value)  # type: ignore[arg-type]

    assert result == stored
    assert type(result) is type(stored)


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (ValueDatatype.integer, True),
        (ValueDatatype.integer, 3.0),
        (ValueDatatype.boolean, 1),
        (ValueDatatype.float, True),
        (ValueDatatype.float, "3"),
        (ValueDatatype.string, 3),
        (ValueDatatype.float, float("nan")),
        (ValueDatatype.float, float("inf")),
        (ValueDatatype.integer, 2**63),
        (ValueDatatype.float, -(2**63) - 1),
    ],
)
def test_refused_values(datatype: ValueDatatype, value: object) -> None:
    with pytest.raises(ValueTypeError):
        check_value(datatype, value)  # type: ignore[arg-type]


class _When(BaseModel):
    at: UtcDatetime


def test_datetimes_are_utc() -> None:
    assert _When.model_validate({"at": "2024-01-01T00:00:00"}).at == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    shifted = _When.model_validate({"at": "2024-01-01T02:00:00+02:00"}).at
    assert shifted == datetime(2024, 1, 1, tzinfo=UTC)
    assert _When(at=shifted).model_dump_json() == '{"at":"2024-01-01T00:00:00Z"}'


def test_datetime_out_of_range_in_utc_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        _When.model_validate({"at": "0001-01-01T00:00:00+05:00"})


def test_lists_of_datetimes_are_utc_and_name_the_one_out_of_range() -> None:
    many = TypeAdapter(UtcDatetimes)
    parsed = many.validate_json('["2024-01-01T00:00:00", "2024-01-01T02:00:00+02:00", 0]')
    assert parsed == [datetime(2024, 1, 1, tzinfo=UTC)] * 2 + [datetime(1970, 1, 1, tzinfo=UTC)]
    assert all(moment.tzinfo is UTC for moment in parsed)

    with pytest.raises(ValidationError, match="item 1: datetime is out of range"):
        many.validate_python(["2024-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00"])
