"""The /fdb code registry over HTTP against a real database: assign, list, edit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

EMPTY: dict[str, list[object]] = {"models": [], "scenarios": [], "measures": [], "sensors": []}
RUN = {
    "model": "arima",
    "scenario": "baseline",
    "measures": [
        {"name": "temperature", "units": "K"},
        {"name": "soil moisture", "units": "m3 m-3"},
    ],
}


def _codes(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/fdb/list-codes")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assign(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fdb/assign-codes", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_assign_codes_gives_standard_and_experimental_codes(admin: httpx.Client) -> None:
    assert _codes(admin) == EMPTY

    answer = _assign(admin, RUN)

    assert answer == {
        "model": "arima",
        "scenario": "baseline",
        "expver": "d001",
        "member": 1,
        "measures": [
            {"name": "soil moisture", "units": "m3 m-3", "param": 80},
            {"name": "temperature", "units": "K", "param": 167},
        ],
        "channel": 0,
    }
    assert _codes(admin) == {
        "models": [{"model": "arima", "expver": "d001"}],
        "scenarios": [{"model": "arima", "scenario": "baseline", "member": 1}],
        "measures": [
            {"name": "soil moisture", "units": "m3 m-3", "param": 80},
            {"name": "temperature", "units": "K", "param": 167},
        ],
        "sensors": [],
    }


def test_assign_codes_is_idempotent(admin: httpx.Client) -> None:
    first = _assign(admin, RUN)
    before = _codes(admin)

    assert _assign(admin, RUN) == first
    assert _codes(admin) == before


def test_codes_never_collide(admin: httpx.Client) -> None:
    _assign(admin, RUN)
    other = _assign(
        admin,
        {
            "model": "persistence",
            "scenario": "baseline",
            "measures": [{"name": "air temperature", "units": "K"}],
        },
    )
    second_scenario = _assign(admin, {**RUN, "scenario": "wet", "measures": []})
    no_scenario = _assign(admin, {"model": "persistence", "measures": []})

    assert other["expver"] == "d002"
    assert other["member"] == 1  # members are per model
    # 167 belongs to "temperature" [K] already: the next free experimental code.
    assert other["measures"] == [{"name": "air temperature", "units": "K", "param": 81}]
    assert (second_scenario["expver"], second_scenario["member"]) == ("d001", 2)
    assert (no_scenario["expver"], no_scenario["member"]) == ("d002", None)


def test_concurrent_assignments_get_distinct_codes(admin: httpx.Client) -> None:
    def assign(index: int) -> dict[str, Any]:
        return _assign(
            admin,
            {
                "model": f"model-{index}",
                "scenario": "s",
                "measures": [{"name": f"measure-{index}", "units": "1"}],
            },
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(assign, range(16)))

    assert len({answer["expver"] for answer in answers}) == 16
    assert len({answer["measures"][0]["param"] for answer in answers}) == 16
    assert len(_codes(admin)["models"]) == 16


def test_assign_codes_rejects_bad_input_and_changes_nothing(admin: httpx.Client) -> None:
    for body in (
        {"model": "", "measures": []},
        {"model": "m", "scenario": "", "measures": []},
        {"model": "m", "measures": [{"name": "", "units": "K"}]},
        {"model": "m" * 101, "measures": []},
        {"model": "m", "measures": [{"name": "x"}]},
        {"model": "m\x00", "measures": []},
        {"model": "m", "sensor": {"sensor": ""}},
        {"model": "m", "sensor": {"sensor": "S1", "measure": "x" * 101}},
        {"model": "m", "sensor": "S1"},
    ):
        response = admin.post("/fdb/assign-codes", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"][0] == "body"

    assert _codes(admin) == EMPTY


def test_edit_model_code(admin: httpx.Client) -> None:
    _assign(admin, RUN)
    _assign(admin, {"model": "other", "measures": []})

    response = admin.post("/fdb/edit-model-code", json={"model": "arima", "new_model": "ARIMA"})
    assert response.status_code == 200, response.text
    assert response.json() == {"detail": "FDB model code edited"}
    response = admin.post("/fdb/edit-model-code", json={"model": "ARIMA", "expver": "x123"})
    assert response.status_code == 200, response.text

    codes = _codes(admin)
    assert codes["models"] == [
        {"model": "ARIMA", "expver": "x123"},
        {"model": "other", "expver": "d002"},
    ]
    assert codes["scenarios"] == [{"model": "ARIMA", "scenario": "baseline", "member": 1}]
    # A code given up by an edit is free again (hence edits are for admins only).
    assert _assign(admin, {"model": "third", "measures": []})["expver"] == "d001"


def test_edit_model_code_errors_change_nothing(admin: httpx.Client) -> None:
    _assign(admin, RUN)
    _assign(admin, {"model": "other", "measures": []})
    before = _codes(admin)

    cases = [
        ({"model": "nope", "expver": "abcd"}, 400, "Model 'nope' has no FDB code"),
        ({"model": "arima", "expver": "d002"}, 409, "expver 'd002' is the code of model 'other'"),
        ({"model": "arima", "new_model": "other"}, 409, "Model 'other' has an FDB code already"),
    ]
    for body, status, detail in cases:
        response = admin.post("/fdb/edit-model-code", json=body)
        assert (response.status_code, response.json()) == (status, {"detail": detail})
    for body in ({"model": "arima"}, {"model": "arima", "expver": "TOO LONG"}):
        assert admin.post("/fdb/edit-model-code", json=body).status_code == 422

    assert _codes(admin) == before


def test_edit_scenario_code(admin: httpx.Client) -> None:
    _assign(admin, RUN)
    _assign(admin, {**RUN, "scenario": "wet"})
    before = _codes(admin)

    collide = admin.post(
        "/fdb/edit-scenario-code", json={"model": "arima", "scenario": "wet", "member": 1}
    )
    assert collide.status_code == 409
    assert collide.json() == {"detail": "Member 1 of 'arima' is the code of scenario 'baseline'"}
    missing = admin.post(
        "/fdb/edit-scenario-code", json={"model": "arima", "scenario": "dry", "member": 9}
    )
    assert missing.status_code == 400
    assert missing.json() == {"detail": "Scenario 'dry' of model 'arima' has no FDB code"}
    out_of_range = admin.post(
        "/fdb/edit-scenario-code", json={"model": "arima", "scenario": "wet", "member": 256}
    )
    assert out_of_range.status_code == 422
    assert _codes(admin) == before

    edited = admin.post(
        "/fdb/edit-scenario-code",
        json={"model": "arima", "scenario": "wet", "new_scenario": "rainy", "member": 7},
    )
    assert edited.status_code == 200, edited.text
    assert _codes(admin)["scenarios"] == [
        {"model": "arima", "scenario": "baseline", "member": 1},
        {"model": "arima", "scenario": "rainy", "member": 7},
    ]


def test_edit_measure_code(admin: httpx.Client) -> None:
    _assign(admin, RUN)
    before = _codes(admin)

    collide = admin.post(
        "/fdb/edit-measure-code", json={"name": "soil moisture", "units": "m3 m-3", "param": 167}
    )
    assert collide.status_code == 409
    assert collide.json() == {"detail": "paramId 167 is the code of measure 'temperature' [K]"}
    taken_name = admin.post(
        "/fdb/edit-measure-code",
        json={
            "name": "soil moisture",
            "units": "m3 m-3",
            "new_name": "temperature",
            "new_units": "K",
        },
    )
    assert taken_name.status_code == 409
    missing = admin.post("/fdb/edit-measure-code", json={"name": "x", "units": "K", "param": 99})
    assert missing.status_code == 400
    assert missing.json() == {"detail": "Measure 'x' [K] has no FDB code"}
    assert (
        admin.post(
            "/fdb/edit-measure-code", json={"name": "x", "units": "K", "param": 0}
        ).status_code
        == 422
    )
    assert _codes(admin) == before

    edited = admin.post(
        "/fdb/edit-measure-code",
        json={"name": "soil moisture", "units": "m3 m-3", "new_units": "%", "param": 100},
    )
    assert edited.status_code == 200, edited.text
    assert {"name": "soil moisture", "units": "%", "param": 100} in _codes(admin)["measures"]


def test_roles(admin: httpx.Client, user_factory: UserFactory) -> None:
    _assign(admin, RUN)
    before = _codes(admin)
    viewer = user_factory(Role.viewer)
    user = user_factory(Role.user)

    assert _codes(viewer) == before
    assert viewer.post("/fdb/assign-codes", json={"model": "v", "measures": []}).status_code == 403
    edit = {"model": "arima", "expver": "zzzz"}
    assert viewer.post("/fdb/edit-model-code", json=edit).status_code == 403
    assert user.post("/fdb/edit-model-code", json=edit).status_code == 403
    assert _codes(admin) == before
    assert _assign(user, {"model": "u", "measures": []})["expver"] == "d002"


def test_sensor_links_get_a_channel_each(admin: httpx.Client) -> None:
    loop1 = {"sensor": "LOOP1", "measure": "temperature", "units": "K"}
    first = _assign(admin, {**RUN, "sensor": loop1})
    second = _assign(admin, {**RUN, "sensor": {**loop1, "sensor": "LOOP2"}})
    bare = _assign(admin, {**RUN, "sensor": {"sensor": "LOOP3"}})
    again = _assign(admin, {"model": "other", "sensor": loop1})

    assert [a["channel"] for a in (first, second, bare, again)] == [1, 2, 3, 1]
    assert first["expver"] == second["expver"]
    assert _codes(admin)["sensors"] == [
        {**loop1, "channel": 1},
        {"sensor": "LOOP2", "measure": "temperature", "units": "K", "channel": 2},
        {"sensor": "LOOP3", "measure": "", "units": "", "channel": 3},
    ]
