"""The mapping of dtbase runs onto MARS keys, and the requests that find them again.

| dtbase | MARS keys |
|---|---|
| fixed | `class=rd`, `levtype=sfc`, `domain=g` |
| model | `expver` (4 characters, from the code registry) |
| scenario | `stream=enfo`, `type=pf`, `number` = member (1-255, from the registry) |
| no scenario | `stream=oper`, `type=fc` (no `number`) |
| sensor link (sensor, its measure) | `channel` (1-65534, from the registry); 0: no sensor |
| reference time | `date=YYYYMMDD`, `time=HHMM` (UTC, to the minute), see below |
| creation time | not a key: the data cut-off after the reference time (GRIB2 section 4) |
| measure | `param` = paramId (from the registry) |
| (timestamp, value) | one field, `step` = time after `date`/`time` (never negative) |

The reference time is the run's creation time, or its first value's time when that is
earlier (a forecast from an old reading, an analysis, a backfill), so steps are never
negative. So a run's fields are told apart from every other run's by model, scenario, sensor link
and reference minute. `channel` is a standard MARS key (an integer, GRIB2 local
definition 24 of ECMWF); `ident`, which would read better for a sensor, exists in GRIB2
only for simulated satellite products, and eccodes drops seconds from `time`, so runs
stay keyed to the minute. Two runs share keys only when all four coincide (a second run
of the same sensor link in the same minute, or re-runs whose forecasts start at the same
time before their creation): the export then compares values and never overwrites.

Keys are strings in FDB's canonical form, exactly as `fdb.list` shows them, so that a
run's expected keys can be compared with a listing as they are. Steps are written in
minutes (in seconds only for times that are not whole minutes); FDB spells them `0`, `1`
(one hour), `15m`, `1h15m`, `1h30s`, `24h10m`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime

from dtbase.fdb.runs import as_utc

CLASS = "rd"
LEVTYPE = "sfc"
DOMAIN = "g"
SCENARIO_STREAM, SCENARIO_TYPE = "enfo", "pf"
PLAIN_STREAM, PLAIN_TYPE = "oper", "fc"

Keys = dict[str, str]
Request = dict[str, str | list[str]]

_STEP = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def step_key(seconds: int) -> str:
    """FDB's spelling of a step given in seconds."""
    if seconds < 0:
        raise ValueError(f"steps cannot be negative ({seconds} s)")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if not minutes and not secs:
        return str(hours)
    return (
        (f"{hours}h" if hours else "")
        + (f"{minutes}m" if minutes else "")
        + (f"{secs}s" if secs else "")
    )


def step_seconds(key: str) -> int:
    """Seconds of a step as FDB or eccodes spell it: `24`, `1h15m`, `75m`, `90s`, `0m`."""
    if key.isdigit():
        return int(key) * 3600
    match = _STEP.match(key)
    if not key or match is None:
        raise ValueError(f"not a step: {key!r}")
    hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def run_keys(
    *, expver: str, member: int | None, reference_time: datetime, channel: int = 0
) -> Keys:
    """The keys every field of a run shares (all but `param` and `step`)."""
    when = as_utc(reference_time)
    keys: Keys = {
        "class": CLASS,
        "expver": expver,
        "stream": SCENARIO_STREAM if member is not None else PLAIN_STREAM,
        "date": when.strftime("%Y%m%d"),
        "time": when.strftime("%H%M"),
        "domain": DOMAIN,
        "type": SCENARIO_TYPE if member is not None else PLAIN_TYPE,
        "levtype": LEVTYPE,
        "channel": str(channel),
    }
    if member is not None:
        keys["number"] = str(member)
    return keys


def field_keys(run: Mapping[str, str], *, param: int, step: int) -> Keys:
    """The keys of one field: the run's keys, `param` and `step` (in seconds)."""
    return {**run, "param": str(param), "step": step_key(step)}


def reference_time_of(keys: Mapping[str, str]) -> datetime:
    """The run time (UTC, to the minute) that `date` and `time` keys spell."""
    return datetime.strptime(keys["date"] + keys["time"].zfill(4), "%Y%m%d%H%M").replace(tzinfo=UTC)


def member_of(keys: Mapping[str, str]) -> int | None:
    """The scenario member of a field's keys, None for a run without scenario."""
    if keys.get("stream") == SCENARIO_STREAM and keys.get("type") == SCENARIO_TYPE:
        return int(keys["number"])
    return None


def is_dtbase_field(keys: Mapping[str, str]) -> bool:
    """Whether listed keys have the shape this bridge writes (other data may share an FDB)."""
    if keys.get("class") != CLASS or keys.get("levtype") != LEVTYPE:
        return False
    if not keys.get("channel", "").isdigit():
        return False
    shape = (keys.get("stream"), keys.get("type"))
    if shape == (SCENARIO_STREAM, SCENARIO_TYPE):
        return keys.get("number", "").isdigit()
    return shape == (PLAIN_STREAM, PLAIN_TYPE) and not keys.get("number")


def listing_request(
    *, expver: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> Request:
    """A `fdb.list` request for the runs of one model (or of all), by run date if given."""
    request: Request = {"class": CLASS}
    if expver is not None:
        request["expver"] = expver
    if date_from is not None and date_to is not None:
        request["date"] = f"{date_from:%Y%m%d}/to/{date_to:%Y%m%d}"
    return request


def run_request(
    *, expver: str, member: int | None, reference_time: datetime, channel: int = 0
) -> Keys:
    """A `fdb.list` request for every field of one run (metkit-valid, `domain` included).

    FDB also lists fields that lack an optional key of the request (`channel`): keep only
    the listed keys `of_run` matches.
    """
    return run_keys(expver=expver, member=member, reference_time=reference_time, channel=channel)


def of_run(listed: list[Keys], request: Mapping[str, str]) -> list[Keys]:
    """The listed fields whose keys hold every key of a run request, exactly."""
    return [keys for keys in listed if all(keys.get(k) == v for k, v in request.items())]


def retrieve_request(run: Mapping[str, str], *, params: list[str], steps: list[str]) -> Request:
    """A `fdb.retrieve` request: FDB returns only what exists among params x steps."""
    return {**run, "param": params, "step": steps}
