"""The code registry: standard paramIds where they fit, experimental codes otherwise, and
codes that never collide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dtbase.fdb import (
    Codes,
    JsonCodeRegistry,
    RegistryError,
    SensorLink,
    allocate,
    standard_param,
)
from dtbase.fdb.registry import CHANNELS, EXPERIMENTAL_PARAMS, MEMBERS


@pytest.mark.parametrize(
    ("name", "units", "param"),
    [
        ("temperature", "K", 167),
        ("2m_temperature", "K", 167),
        ("Air-Temperature", "K", 167),
        ("temperature", "degC", None),  # stored as given: exact values beat a standard id
        ("dew point", "K", 168),
        ("relative humidity", "%", 260242),
        ("wind speed", "m/s", 207),
        ("surface pressure", "Pa", 134),
        ("surface pressure", "hPa", None),
        ("soil moisture", "m3 m-3", None),
    ],
)
def test_standard_params(name: str, units: str, param: int | None) -> None:
    assert standard_param(name, units) == param


def test_codes_are_assigned_once_and_kept(registry: JsonCodeRegistry) -> None:
    first = registry.assign(
        model="arima", scenario="baseline", measures=[("temperature", "K"), ("level", "m")]
    )
    again = JsonCodeRegistry(registry.path).assign(
        model="arima", scenario="baseline", measures=[("level", "m")]
    )

    assert first.expver == again.expver == "d001"
    assert first.member == again.member == 1
    assert first.params == {("temperature", "K"): 167, ("level", "m"): EXPERIMENTAL_PARAMS[0]}
    assert again.params == {("level", "m"): first.params[("level", "m")]}


def test_codes_never_collide(registry: JsonCodeRegistry) -> None:
    measures = [(f"measure {i}", "1") for i in range(200)] + [
        ("temperature", "K"),
        ("air temperature", "K"),  # same standard id: the second gets an experimental one
        ("temperature", "degC"),
    ]
    for model in ("a", "b", "c"):
        for scenario in ("low", "high", None):
            registry.assign(model=model, scenario=scenario, measures=measures)

    codes = registry.codes()

    assert len(set(codes.models.values())) == 3
    assert len(set(codes.measures.values())) == len(measures) == len(codes.measures)
    assert {codes.member(m, s) for m in "abc" for s in ("low", "high")} == {1, 2}
    assert sorted(codes.measures.values()).count(167) == 1
    codes.check()


def test_members_run_out_with_a_clear_error() -> None:
    codes = Codes()
    for i in MEMBERS:
        codes, run = allocate(codes, model="m", scenario=f"s{i}", measures=[])
        assert run.member == i

    with pytest.raises(RegistryError, match="No free member"):
        allocate(codes, model="m", scenario="one too many", measures=[])
    _, other_model = allocate(codes, model="n", scenario="s1", measures=[])
    assert other_model.member == 1


def test_expvers_count_in_base_36() -> None:
    codes = Codes()
    expvers = []
    for i in range(40):
        codes, run = allocate(codes, model=f"model {i}", scenario=None, measures=[])
        expvers.append(run.expver)

    assert expvers[:3] == ["d001", "d002", "d003"]
    assert expvers[34:36] == ["d00z", "d010"]


def test_hand_edited_codes_are_kept(registry: JsonCodeRegistry) -> None:
    registry.path.write_text(
        json.dumps(
            {
                "models": {"arima": {"expver": "abcd", "scenarios": {"wet": 9}}},
                "measures": [{"name": "level", "units": "m", "param": 212001}],
            }
        )
    )

    run = registry.assign(model="arima", scenario="wet", measures=[("level", "m"), ("flow", "")])

    assert (run.expver, run.member) == ("abcd", 9)
    assert run.params == {("level", "m"): 212001, ("flow", ""): 80}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"models": {"a": {"expver": "d001"}, "b": {"expver": "d001"}}, "measures": []},
            "expver 'd001' is used by 'a', 'b'",
        ),
        (
            {
                "models": {"a": {"expver": "d001", "scenarios": {"x": 2, "y": 2}}},
                "measures": [],
            },
            "member of model 'a' 2 is used by 'x', 'y'",
        ),
        (
            {
                "models": {},
                "measures": [
                    {"name": "t", "units": "K", "param": 167},
                    {"name": "u", "units": "K", "param": 167},
                ],
            },
            "paramId 167 is used by 't [K]', 'u [K]'",
        ),
        ({"models": {"a": {"expver": "TOO LONG"}}, "measures": []}, "is not 4 of"),
        ({"models": {"a": {"expver": "d001", "scenarios": {"x": 256}}}, "measures": []}, "1-255"),
        ({"models": []}, "Malformed"),
    ],
)
def test_invalid_registry_files_are_refused(
    registry: JsonCodeRegistry, content: object, message: str
) -> None:
    registry.path.write_text(json.dumps(content))

    with pytest.raises(RegistryError, match=message.replace("[", "\\[").replace("]", "\\]")):
        registry.codes()


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text("{")

    with pytest.raises(RegistryError, match="is not JSON"):
        JsonCodeRegistry(path).codes()


def test_reverse_lookups(registry: JsonCodeRegistry) -> None:
    registry.assign(model="arima", scenario="wet", measures=[("level", "m")])
    codes = registry.codes()

    assert codes.model_of("d001") == "arima"
    assert codes.scenario_of("arima", 1) == "wet"
    assert codes.measure_of(80) == ("level", "m")
    assert codes.model_of("zzzz") is None
    assert codes.run_codes(model="arima", scenario="dry", measures=[("level", "m")]) is None


def test_sensor_links_get_channels_once(registry: JsonCodeRegistry) -> None:
    loop1 = SensorLink("LOOP1", "temperature", "K")
    first = registry.assign(model="arima", scenario=None, measures=[], sensor=loop1)
    other = registry.assign(
        model="arima", scenario=None, measures=[], sensor=SensorLink("LOOP1", "humidity", "%")
    )
    again = JsonCodeRegistry(registry.path).assign(
        model="other", scenario=None, measures=[], sensor=loop1
    )
    plain = registry.assign(model="arima", scenario=None, measures=[])

    assert (first.channel, other.channel, again.channel, plain.channel) == (1, 2, 1, 0)
    codes = registry.codes()
    assert codes.sensor_of(1) == loop1
    assert codes.channel(None) == 0
    assert codes.channel(SensorLink("never")) is None
    assert json.loads(registry.path.read_text())["sensors"][0] == {
        "sensor": "LOOP1",
        "measure": "humidity",
        "units": "%",
        "channel": 2,
    }


def test_channels_are_checked() -> None:
    with pytest.raises(RegistryError, match="channel 65535 not 1-65534"):
        Codes(sensors={SensorLink("a"): 65535}).check()
    with pytest.raises(RegistryError, match="channel 4 is used by"):
        Codes(sensors={SensorLink("a"): 4, SensorLink("b"): 4}).check()
    codes = Codes(sensors={SensorLink(f"s{i}"): i for i in CHANNELS})
    with pytest.raises(RegistryError, match="No free channel"):
        allocate(codes, model="m", scenario=None, measures=[], sensor=SensorLink("one more"))
