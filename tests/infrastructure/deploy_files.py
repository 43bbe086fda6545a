"""Readers for the deployment files: Dockerfiles, docker-compose.yml, .env.example,
.dockerignore, and the environment variables dtbase's settings classes read.

Small on purpose: a Dockerfile is read as Docker reads it (continuation lines joined,
comment lines dropped, one instruction per logical line, stages split at FROM), which is
all the checks need, without a Docker engine.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCKERFILES = {
    "backend": ROOT / "Dockerfile_backend",
    "frontend": ROOT / "Dockerfile_frontend",
    "functions": ROOT / "Dockerfile_functions",
}

# Where settings classes live.
SETTINGS_MODULES = (
    "dtbase.core.settings",
    "dtbase.mqtt.config",
    "dtbase.sdk.base",
    "services.weather.ingress",
)
PROJECT_PACKAGES = ("dtbase", "frontend", "services")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The variables set by this stage's ENV instructions."""
        variables: dict[str, str] = {}
        for instruction in self.all("ENV"):
            words = shlex.split(instruction.value)
            if words and "=" not in words[0]:  # legacy form: ENV NAME value with spaces
                variables[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                name, _, value = word.partition("=")
                variables[name] = value
        return variables

    def exposed_ports(self) -> set[int]:
        return {int(port.split("/")[0]) for i in self.all("EXPOSE") for port in i.value.split()}


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def resolve(self, value: str) -> str:
        """`${ARG}` / `$ARG` replaced by the global ARG's default."""
        return re.sub(
            r"\$\{(\w+)\}|\$(\w+)",
            lambda m: self.global_args.get(m.group(1) or m.group(2), m.group(0)),
            value,
        )


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in _instructions(path.read_text()):
        if instruction.keyword == "FROM":
            words = instruction.value.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if instruction.keyword == "ARG":
                key, _, default = instruction.value.partition("=")
                global_args[key.strip()] = default.strip()
        else:
            stages[-1].instructions.append(instruction)
    file = Dockerfile(path, global_args, stages)
    for stage in stages:
        stage.base = file.resolve(stage.base)
    return file


def _instructions(text: str) -> Iterator[Instruction]:
    logical: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if logical and stripped.startswith("#"):
            continue  # Docker drops comment lines inside a continued instruction
        if not logical:
            start = number
        if stripped.endswith("\\"):
            logical.append(stripped[:-1].strip())
            continue
        logical.append(stripped)
        joined = " ".join(part for part in logical if part)
        logical = []
        keyword, _, value = joined.partition(" ")
        yield Instruction(keyword.upper(), value.strip(), start)


def exec_form(value: str) -> list[str] | None:
    """The words of a JSON (exec form) CMD/ENTRYPOINT, None for the shell form."""
    if not value.startswith("["):
        return None
    words = json.loads(value)
    assert isinstance(words, list), value
    assert all(isinstance(w, str) for w in words), value
    return words


def commands(words: list[str]) -> list[list[str]]:
    """The commands a container runs: `sh -c 'a && exec b'` -> [a-words, b-words]."""
    if len(words) == 3 and words[0] in {"sh", "/bin/sh", "bash"} and words[1] == "-c":
        script = words[2]
    else:
        return [words]
    found = []
    for part in script.split("&&"):
        part_words = shlex.split(part)
        if part_words and part_words[0] == "exec":
            part_words = part_words[1:]
        if part_words:
            found.append(part_words)
    return found


def healthcheck_command(stage: Stage) -> list[str] | None:
    instruction = stage.last("HEALTHCHECK")
    if instruction is None or instruction.value.upper() == "NONE":
        return None
    _, _, command = instruction.value.partition("CMD ")
    return exec_form(command.strip()) or shlex.split(command)


def option_value(words: list[str], option: str) -> str | None:
    """The value of `--option value` or `--option=value` in a command's words."""
    for index, word in enumerate(words):
        if word == option and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    return None


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def interpolations(text: str) -> dict[str, str]:
    """`${NAME...}` in a compose file -> {NAME: the modifier, e.g. ':?message' or ':-5000'}."""
    return {m.group(1): m.group(2) for m in re.finditer(r"\$\{(\w+)([^}]*)\}", text)}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME:?error}` with `variables`."""

    def replace(match: re.Match[str]) -> str:
        name, modifier = match.group(1), match.group(2)
        if variables.get(name):
            return variables[name]
        if modifier.startswith((":-", "-")):
            return modifier.split("-", 1)[1]
        raise KeyError(f"{name} is required: {modifier}")

    return re.sub(r"\$\{(\w+)([^}]*)\}", replace, value)


def env_example() -> dict[str, str]:
    """NAME=value lines of .env.example (comments and blank lines skipped)."""
    variables = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out: the last match decides,
    and a pattern matching a parent folder matches everything under it."""
    result = False
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negated
    return result


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            out, index = out + pattern[index : end + 1], end + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(out)


def dtbase_environment_variables() -> frozenset[str]:
    """Every environment variable a dtbase settings class reads (prefix + field, aliases)."""
    for module in SETTINGS_MODULES:
        importlib.import_module(module)
    names: set[str] = set()
    for cls in _subclasses(BaseSettings):
        if not cls.__module__.startswith(PROJECT_PACKAGES):
            continue
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, info in cls.model_fields.items():
            names.add((prefix + name).upper())
            for alias in (info.alias, info.validation_alias):
                if isinstance(alias, str):
                    names.add(alias.upper())
    return frozenset(names)


def _subclasses(cls: type[BaseSettings]) -> Iterator[type[BaseSettings]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
