"""What runs on Lambda is what runs here: the layer's pins agree with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.infrastructure

# Newest releases with manylinux2014 arm64 wheels for python3.11; newer ones
# break `sam build` without Docker.
REQUIRED_LAYER_PINS = {"pillow": "12.2.0", "numpy": "2.2.6"}

_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?P<spec>.*)$")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    """Package name → version specifier ("==1.2.3"), from requirement lines."""
    pins: dict[str, str] = {}
    for raw in requirements:
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        match = _REQUIREMENT.match(line)
        assert match, f"unreadable requirement: {raw!r}"
        pins[_normalized(match["name"])] = match["spec"].replace(" ", "")
    return pins


def _layer_pins(repo_root: Path) -> dict[str, str]:
    path = repo_root / "layers" / "dependencies" / "requirements.txt"
    return _pins(path.read_text(encoding="utf-8").splitlines())


def _project_pins(repo_root: Path) -> dict[str, str]:
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    return _pins(pyproject["project"]["dependencies"])


def test_layer_ships_the_image_libraries_that_have_arm64_wheels(repo_root: Path) -> None:
    layer = _layer_pins(repo_root)

    for name, version in REQUIRED_LAYER_PINS.items():
        assert layer.get(name) == f"=={version}", name


def test_every_layer_requirement_is_pinned_exactly(repo_root: Path) -> None:
    layer = _layer_pins(repo_root)

    assert layer
    unpinned = {name: spec for name, spec in layer.items() if not re.fullmatch(r"==[\w.]+", spec)}
    assert not unpinned


def test_layer_and_project_pin_the_same_versions(repo_root: Path) -> None:
    layer = _layer_pins(repo_root)
    project = _project_pins(repo_root)

    shared = layer.keys() & project.keys()
    assert shared, "the layer and pyproject.toml share no package; did a file move?"
    mismatched = {
        name: (layer[name], project[name]) for name in shared if layer[name] != project[name]
    }
    assert not mismatched
