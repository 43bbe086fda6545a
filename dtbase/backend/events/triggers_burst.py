"""A trigger's burst: the matching events waiting to run, grouped by the parameters they
fill in, and when the burst is due. Pure functions; the worker keeps the state in the
trigger's row (`EventTrigger.pending`).

The parameters template is JSON whose string values may hold `{key}`, a key of the
event's metadata (`{sensor}`, `{model}`, `{first}`...; `{{` and `}}` are literal braces).
A string that is exactly one `{key}` becomes the metadata value itself, so a list stays a
list (`"sensors": "{sensor}"` gives `["A", "B"]` for a model run linked to two sensors) and
a number stays a number; inside longer text a list is joined with commas, and null (or a
key the event lacks) is empty. Keys of objects are not filled.

Events of a burst that fill the template alike make one run. `first`, `last` and `count`
are not what sets runs apart but what a run covers: within a group `{first}` is the
earliest first, `{last}` the latest last and `{count}` the sum of the counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from string import Formatter
from typing import Any

from dtbase.backend.errors import Unprocessable

# The metadata keys of each event kind (docs/events.md).
META_KEYS: dict[str, frozenset[str]] = {
    "readings.stored": frozenset({"sensor", "sensor_type", "measure", "first", "last", "count"}),
    "model_run.stored": frozenset(
        {"model", "scenario", "run", "sensor", "measure", "first", "last", "count"}
    ),
    "service_run.finished": frozenset({"service", "run", "status", "parameter_set"}),
    "sensor.created": frozenset({"sensor", "sensor_type"}),
    "sensor.deleted": frozenset({"sensor", "sensor_type"}),
    "location.created": frozenset({"location", "schema"}),
    "location.deleted": frozenset({"location", "schema"}),
    "model.created": frozenset({"model"}),
    "model.deleted": frozenset({"model"}),
    "service.created": frozenset({"service"}),
    "service.deleted": frozenset({"service"}),
}
# What a run covers rather than what sets runs apart (see the module's docstring).
RANGE_KEYS = ("first", "last", "count")
# The event ids a pending group (and so a run's log entry) keeps: the first ones.
KEPT_EVENT_IDS = 100

_FORMATTER = Formatter()
# Where a value sits in JSON: keys and indexes from the top.
JsonPath = tuple[str | int, ...]


# --- the template --------------------------------------------------------------------


def possible_kinds(query: Mapping[str, Any]) -> list[str]:
    """The event kinds `query` (as stored: fields given, lists of strings) can match: an
    event matches only if its metadata has every field the query filters on."""
    fields = set(query) - {"kind"}
    kinds = query.get("kind") or list(META_KEYS)
    return [kind for kind in kinds if fields <= META_KEYS.get(kind, frozenset())]


def check_template(template: Any, query: Mapping[str, Any]) -> None:
    """422 unless every `{key}` of the template is metadata of every kind `query` can
    match, written plainly (no format spec, no conversion, braces paired)."""
    kinds = possible_kinds(query)
    if not kinds:
        raise Unprocessable(
            ["query"], "The query matches no event kind: no event has all of its fields"
        )
    known = frozenset.intersection(*(META_KEYS[kind] for kind in kinds))
    for path, text in _strings(template, ()):
        for key in _placeholders(text, path):
            if key not in known:
                raise Unprocessable(
                    ["parameters", *path],
                    f"{{{key}}} is not metadata of every event the query matches "
                    f"({', '.join(kinds)}); the keys they all have: {', '.join(sorted(known))}",
                    text,
                )


def _strings(
    value: Any, path: tuple[str | int, ...]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _placeholders(text: str, path: JsonPath) -> list[str]:
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as error:
        raise Unprocessable(
            ["parameters", *path], f"Braces do not pair up ({error}); write {{{{ for {{", text
        ) from None
    keys = []
    for _, key, spec, conversion in parts:
        if key is None:
            continue
        if spec or conversion or not key.isidentifier():
            raise Unprocessable(
                ["parameters", *path],
                "Write a metadata key in braces, e.g. {sensor}: no format, conversion, "
                "index or attribute",
                text,
            )
        keys.append(key)
    return keys


def fill(template: Any, meta: Mapping[str, Any]) -> Any:
    """The template with every `{key}` replaced by the event's metadata (checked before by
    `check_template`)."""
    if isinstance(template, str):
        return _fill_text(template, meta)
    if isinstance(template, dict):
        return {key: fill(value, meta) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, meta) for item in template]
    return template


def _fill_text(text: str, meta: Mapping[str, Any]) -> Any:
    parts = list(_FORMATTER.parse(text))
    if len(parts) == 1 and parts[0][0] == "" and parts[0][1] is not None:
        return meta.get(parts[0][1])
    return "".join(
        literal + ("" if key is None else _as_text(meta.get(key))) for literal, key, _, _ in parts
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)


# --- the burst -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What a burst needs of an event."""

    id: int
    time: datetime
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class Group:
    """The events of a burst that start one run: the metadata to fill the template with
    (ranges merged), the first event ids, and how many events there were."""

    meta: dict[str, Any]
    event_ids: list[int]
    events: int


def group_key(template: Any, meta: Mapping[str, Any]) -> str:
    """Events with equal keys start one run: the template filled, ranges left out."""
    if template is None:
        return ""
    neutral = {**meta, **dict.fromkeys(RANGE_KEYS)}
    return json.dumps(fill(template, neutral), sort_keys=True, separators=(",", ":"))


def add_events(
    pending: Mapping[str, Any], template: Any, events: Sequence[Event]
) -> dict[str, Any]:
    """`pending` (a trigger's stored burst) with `events` added, as stored JSON."""
    groups = {key: dict(group) for key, group in pending.items()}
    for event in events:
        key = group_key(template, event.meta)
        group = groups.get(key)
        if group is None:
            groups[key] = {"meta": dict(event.meta), "event_ids": [event.id], "events": 1}
            continue
        group["meta"] = _merged(group["meta"], event.meta)
        if len(group["event_ids"]) < KEPT_EVENT_IDS:
            group["event_ids"] = [*group["event_ids"], event.id]
        group["events"] += 1
    return groups


def groups_of(pending: Mapping[str, Any]) -> list[Group]:
    return [
        Group(meta=dict(g["meta"]), event_ids=list(g["event_ids"]), events=int(g["events"]))
        for g in pending.values()
    ]


def _merged(meta: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(meta)
    first = _extreme(meta.get("first"), later.get("first"), min)
    last = _extreme(meta.get("last"), later.get("last"), max)
    if first is not None:
        merged["first"] = first
    if last is not None:
        merged["last"] = last
    counts = [meta.get("count"), later.get("count")]
    if all(isinstance(count, int) for count in counts):
        merged["count"] = sum(counts)
    return merged


def _extreme(a: Any, b: Any, pick: Any) -> Any:
    """The earlier (`min`) or later (`max`) of two ISO 8601 times; the one given if only
    one is."""
    if a is None or b is None:
        return a if b is None else b
    try:
        chosen = pick(datetime.fromisoformat(a), datetime.fromisoformat(b))
    except (TypeError, ValueError):
        return a
    return a if chosen == datetime.fromisoformat(a) else b


def is_due(
    *,
    started_at: datetime | None,
    last_event_at: datetime | None,
    debounce_seconds: float,
    max_wait_seconds: float,
    now: datetime,
) -> bool:
    """A burst runs once no matching event came for the debounce time, or once it is
    `max_wait_seconds` old (so that a steady stream still runs now and then)."""
    if started_at is None or last_event_at is None:
        return False
    quiet = now - last_event_at >= timedelta(seconds=debounce_seconds)
    return quiet or now - started_at >= timedelta(seconds=max_wait_seconds)
