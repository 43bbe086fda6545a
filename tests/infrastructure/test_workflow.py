"""The CI workflow that builds and pushes the images, validated against the GitHub
Actions workflow schema (check-jsonschema's bundled copy: no network)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.infrastructure.deploy_files import DOCKERFILES, ROOT
from tests.infrastructure.pulumi_mocks import example_config

WORKFLOW = ROOT / ".github" / "workflows" / "images.yml"


def test_workflow_is_a_valid_github_actions_workflow() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_builds_every_image_the_stack_runs() -> None:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["image"]
    matrix = job["strategy"]["matrix"]["include"]
    assert {m["dockerfile"] for m in matrix} == {p.name for p in DOCKERFILES.values()}
    images = {m["image"] for m in matrix}
    stack = example_config()
    for key in ("backendImage", "frontendImage", "functionsImage"):
        name = stack[key].rsplit("/", 1)[-1].split(":")[0]
        assert name in images, f"{key} names an image the workflow does not build"
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    build = steps["docker/build-push-action"]["with"]
    assert build["context"] == "."
    assert "pull_request" in build["push"], "pull requests build without pushing"
