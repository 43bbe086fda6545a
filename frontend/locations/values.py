"""Typed values typed into forms: a schema's identifiers and a location's coordinates."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from dtbase.schemas.common import NAME_LENGTH
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.values import Scalar, ValueDatatype

VALUE_PREFIX = "value:"
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


class InputProblem(ValueError):
    """Something typed into a form that cannot be used; the message says why."""


def parse_identifiers(text: str) -> list[LocationIdentifier]:
    """`name, units, datatype` per line (units may be empty) as identifiers."""
    identifiers = []
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 3:
            raise InputProblem(
                f"Identifiers, line {number}: write 'name, units, datatype', got {line.strip()!r}."
            )
        name, units, datatype = parts
        if not name:
            raise InputProblem(f"Identifiers, line {number}: the name is empty.")
        if name in names:
            raise InputProblem(f"Identifiers, line {number}: {name!r} is listed twice.")
        if max(len(name), len(units)) > NAME_LENGTH:
            raise InputProblem(
                f"Identifiers, line {number}: a name or units may have at most "
                f"{NAME_LENGTH} characters."
            )
        if datatype not in ValueDatatype.__members__:
            choices = ", ".join(ValueDatatype.__members__)
            raise InputProblem(
                f"Identifiers, line {number}: datatype must be one of {choices}, got {datatype!r}."
            )
        names.add(name)
        identifiers.append(
            LocationIdentifier(name=name, units=units or None, datatype=ValueDatatype(datatype))
        )
    if not identifiers:
        raise InputProblem("Identifiers: give at least one.")
    return identifiers


def parse_value(identifier: LocationIdentifier, text: str) -> Scalar:
    """The text typed for `identifier` as a value of its datatype."""
    text = text.strip()
    label = identifier.name
    match identifier.datatype:
        case ValueDatatype.string:
            if not text:
                raise InputProblem(f"{label}: enter a value.")
            return text
        case ValueDatatype.integer:
            try:
                return int(text)
            except ValueError:
                raise InputProblem(f"{label}: {text!r} is not a whole number.") from None
        case ValueDatatype.float:
            try:
                number = float(text)
            except ValueError:
                raise InputProblem(f"{label}: {text!r} is not a number.") from None
            if not math.isfinite(number):
                raise InputProblem(f"{label}: {text!r} is not a finite number.")
            return number
        case ValueDatatype.boolean:
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise InputProblem(f"{label}: {text!r} is not true or false.")
    raise InputProblem(f"{label}: unknown datatype {identifier.datatype}.")


def parse_coordinates(
    identifiers: Sequence[LocationIdentifier], form: Mapping[str, str]
) -> dict[str, Scalar]:
    """Each identifier's value from the form's `value:<name>` fields."""
    return {
        identifier.name: parse_value(identifier, form.get(VALUE_PREFIX + identifier.name, ""))
        for identifier in identifiers
    }


def coordinates_json(row: Mapping[str, Scalar], identifiers: Sequence[LocationIdentifier]) -> str:
    """A listed location's coordinates, as the hidden field of its forms carries them."""
    return json.dumps({i.name: row.get(i.name) for i in identifiers}, sort_keys=True)


def read_coordinates(text: str) -> dict[str, Scalar]:
    """The hidden coordinates field back as a mapping."""
    try:
        found = json.loads(text)
    except ValueError:
        raise InputProblem("The location's coordinates are not valid JSON.") from None
    if not isinstance(found, dict) or not all(
        isinstance(value, bool | int | float | str) for value in found.values()
    ):
        raise InputProblem("The location's coordinates must map names to values.")
    return found


def shown(value: Scalar | None) -> str:
    """A value as typed into a form (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
