"""The Azure Functions wrappers, called with azure.functions request objects."""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import tomllib
from functools import cache, partial
from importlib import metadata
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from services import function_app, registry
from services.weather import handler as weather
from tests.utils.openweathermap import API_KEY, RECORDED_AT, Provider

PARAMETERS = {"dt_from": "-24h", "dt_to": "+48h", "api_key": API_KEY}
LONDON = {"latitude": 51.53, "longitude": -0.127}


def _request(body: bytes, method: str = "POST", route: str = "weather") -> func.HttpRequest:
    return func.HttpRequest(method, f"http://localhost:7071/api/{route}", body=body)


@cache
def _functions() -> dict[str, Any]:
    """As the Functions host indexes the app (which it allows once)."""
    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def _of_trigger(kind: str) -> set[str]:
    return {name for name, f in _functions().items() if f.get_trigger().type == kind}


def _expected_functions() -> set[str]:
    """An HTTP function per registered service, and timers each named `<service>_timer`
    after a registered service (read from the registry, so a new service is checked too)."""
    timers = _of_trigger("timerTrigger")
    assert {name.removesuffix("_timer") for name in timers} <= set(registry.HANDLERS)
    assert all(name.endswith("_timer") for name in timers)
    return set(registry.HANDLERS) | timers


def test_one_http_trigger_per_service_and_two_timers() -> None:
    functions = _functions()

    assert _of_trigger("httpTrigger") == set(registry.HANDLERS)
    assert set(functions) == _expected_functions()
    for name in registry.HANDLERS:
        trigger = functions[name].get_trigger()
        assert trigger.route == name
        assert {getattr(m, "value", m) for m in trigger.methods} == {"GET", "POST", "PUT", "DELETE"}
        assert functions[name].get_user_function() is getattr(function_app, name)
        assert json.loads(functions[name].get_function_json())["bindings"][0]["authLevel"] == (
            "FUNCTION"
        )
    assert functions["weather_timer"].get_trigger().schedule == "0 5 * * * *"
    assert functions["arima_timer"].get_trigger().schedule == "0 0 3 * * *"


def test_the_weather_function_ingests(backend_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = Provider()
    handler = partial(weather.handle, transport=provider.transport, clock=lambda: RECORDED_AT)
    monkeypatch.setitem(registry.HANDLERS, "weather", handler)
    user_function = _functions()["weather"].get_user_function()

    response = user_function(_request(json.dumps({**PARAMETERS, **LONDON}).encode()))

    assert response.status_code == 200, response.get_body()
    assert response.mimetype == "application/json"
    summary = json.loads(response.get_body())
    assert summary["ok"]
    assert summary["history"]["records"] == 24


def test_the_weather_function_answers_400_naming_the_field() -> None:
    response = function_app.weather(_request(json.dumps(PARAMETERS).encode()))

    assert response.status_code == 400
    assert json.loads(response.get_body())["field"] == "latitude"


def test_bodies_that_are_not_parameters_get_400() -> None:
    malformed = function_app.weather(_request(b"not json"))
    array = function_app.arima(_request(b"[1, 2]", route="arima"))
    empty = function_app.arima(_request(b"", method="GET", route="arima"))

    assert malformed.status_code == 400
    assert json.loads(malformed.get_body())["detail"] == "Malformed body, JSON expected"
    assert array.status_code == 400
    assert json.loads(array.get_body())["field"] == "body"
    assert empty.status_code == 400
    assert json.loads(empty.get_body())["field"] == "sensors"


def test_a_fault_in_a_handler_is_a_500_with_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(parameters: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(registry.HANDLERS, "arima", broken)

    response = function_app.arima(_request(b"{}", route="arima"))

    assert response.status_code == 500
    assert (
        json.loads(response.get_body())["detail"] == "The service failed: ZeroDivisionError: boom"
    )


def test_timers_do_nothing_unless_configured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(name: str) -> Any:
        def handler(parameters: dict[str, Any]) -> dict[str, Any]:
            calls.append((name, parameters))
            return {"ok": True}

        return handler

    monkeypatch.setitem(registry.HANDLERS, "weather", record("weather"))
    monkeypatch.setitem(registry.HANDLERS, "arima", record("arima"))
    for name in ("APIKEY", "LAT", "LONG"):
        monkeypatch.delenv(f"DT_OPENWEATHERMAP_{name}", raising=False)
    monkeypatch.delenv("DT_ARIMA_PARAMETERS", raising=False)
    timer = TimerRequest(past_due=True)

    with caplog.at_level(logging.INFO, logger="services.function_app"):
        function_app.weather_timer(timer)
        function_app.arima_timer(timer)
        assert calls == []
        monkeypatch.setenv("DT_OPENWEATHERMAP_APIKEY", API_KEY)
        monkeypatch.setenv("DT_OPENWEATHERMAP_LAT", "51.53")
        monkeypatch.setenv("DT_OPENWEATHERMAP_LONG", "-0.127")
        monkeypatch.setenv("DT_ARIMA_PARAMETERS", '{"sensors": ["S1"], "measures": ["t"]}')
        function_app.weather_timer(timer)
        function_app.arima_timer(timer)

    assert calls == [
        ("weather", {"dt_from": "-3h", "dt_to": "+48h"}),
        ("arima", {"sensors": ["S1"], "measures": ["t"]}),
    ]
    assert "skipped" in caplog.text
    assert "running late" in caplog.text


def test_a_scheduled_run_logs_a_failed_summary(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(
        registry.HANDLERS, "arima", lambda parameters: {"ok": False, "problems": ["x"]}
    )

    with caplog.at_level(logging.INFO, logger="services.function_app"):
        summary = function_app.run_scheduled("arima", {})

    assert summary == {"ok": False, "problems": ["x"]}
    assert caplog.records[-1].levelno == logging.ERROR


# The functions image (Dockerfile_functions) against what its functions import.

ROOT = Path(__file__).resolve().parents[2]


def _image_extras() -> set[str]:
    """The extras the image installs dtbase with (its one `pip install ".[...]"`)."""
    text = (ROOT / "Dockerfile_functions").read_text(encoding="utf-8")
    found = re.findall(r'pip install [^\n]*"\.\[([^\]]*)\]"', text)
    assert len(found) == 1, found
    return {extra.strip() for extra in found[0].split(",")}


def _requirements(extras: set[str]) -> set[str]:
    """Distributions dtbase installs with these extras (its own extras expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    optional = project["optional-dependencies"]
    todo = sorted(extras)
    while todo:
        for requirement in map(Requirement, optional[todo.pop()]):
            if canonicalize_name(requirement.name) == "dtbase":
                todo += sorted(requirement.extras)
            else:
                wanted.append(requirement)
    return {canonicalize_name(requirement.name) for requirement in wanted}


def _provided_modules(extras: set[str]) -> set[str]:
    """Top-level modules of those distributions and of everything they depend on."""
    seen: set[str] = set()
    todo = sorted(_requirements(extras))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return {
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(canonicalize_name(d) in seen for d in distributions)
    }


class _Imports(ast.NodeVisitor):
    """Modules a module imports when it runs, wherever the import is (functions too), but
    not under `if TYPE_CHECKING:` nor in a `try` that handles ImportError (optional)."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        handled = {
            name.id
            for handler in node.handlers
            for name in ast.walk(handler.type or ast.Name("BaseException"))
            if isinstance(name, ast.Name)
        }
        if not handled & {"ImportError", "ModuleNotFoundError"}:
            self.generic_visit(node)
            return
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parent = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        self.found.add(base)
        names = (f"{base}.{alias.name}" for alias in node.names)
        self.found |= {name for name in names if _source(name)}

    def visit_Constant(self, node: ast.Constant) -> None:
        # importlib.import_module("...") and lazy-import tables name project modules
        if isinstance(node.value, str) and _source(node.value):
            self.found.add(node.value)


def _source(module: str) -> Path | None:
    """The file of a project module (dtbase or services), None for anything else."""
    if not re.fullmatch(r"(dtbase|services)(\.\w+)*", module):
        return None
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _third_party_imports(module: str) -> set[str]:
    """Top-level modules outside the project and the standard library that importing
    `module` can load, following the project's own modules transitively."""
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _source(name)
        if path is None:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in {"dtbase", "services"}:
                outside.add(top)
            continue
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        visitor = _Imports(package)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        todo += sorted(visitor.found)
    return outside


def _registered_modules() -> dict[str, str]:
    """Each function of the app and the module of the handler it runs (timers run the
    handler of the service they are named after; any other function, its own module)."""
    modules = {}
    for name, function in _functions().items():
        handler = registry.HANDLERS.get(name.removesuffix("_timer"))
        modules[name] = (handler or function.get_user_function()).__module__
    return modules


def test_the_functions_image_installs_what_every_registered_function_imports() -> None:
    provided = _provided_modules(_image_extras())

    missing = {
        function: sorted(_third_party_imports(module) - provided)
        for function, module in _registered_modules().items()
    }

    assert {function: modules for function, modules in missing.items() if modules} == {}
    assert set(missing) == _expected_functions()


def test_the_image_check_sees_the_fdb_stack_and_the_app_itself() -> None:
    """The check has teeth: without the fdb extra, the FDB export's ECMWF imports show."""
    without_fdb = _provided_modules(_image_extras() - {"fdb"})
    needed = _third_party_imports(registry.HANDLERS["fdb_export"].__module__)

    assert {"eccodes", "pyfdb"} <= needed - without_fdb
    assert "azure" in _third_party_imports("services.function_app")
    assert "multio" not in needed  # imported only where its absence is handled
