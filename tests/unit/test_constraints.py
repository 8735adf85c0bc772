"""The versions installed are the ones CI tested (.ci/constraints.txt), within pyproject's ranges.

`make run`, `make test` and CI install with ``-c .ci/constraints.txt``; this catches an
environment that drifted from it (a dependency upgraded without `make constraints`), and a
pin that pyproject's own ranges would refuse.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned and re.fullmatch(r"[\w.+!-]+", pinned), f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = pinned
    return pins


PINS = _pins()
DECLARED = [Requirement(r) for r in PROJECT["dependencies"]] + [
    Requirement(r) for extra in ("team", "export", "dev") for r in PROJECT["optional-dependencies"][extra]
    if not r.startswith("nnx[")
]


def _installed(name: str) -> Version:
    try:
        return Version(Version(version(name)).public)  # a local build (+cpu) is that release
    except PackageNotFoundError:
        pytest.fail(f"{name} is declared but not installed: make test installs it")


@pytest.mark.parametrize("requirement", DECLARED, ids=str)
def test_every_declared_dependency_is_pinned_and_installed_at_its_pin(requirement: Requirement) -> None:
    name = canonicalize_name(requirement.name)
    assert name in PINS, f"{name} is not in .ci/constraints.txt: run `make constraints`"
    assert _installed(name) == Version(PINS[name]), (
        f"{name} {version(name)} is installed, CI tested {PINS[name]}: install with "
        "`pip install -c .ci/constraints.txt ...`, or after a green `make test` on the new "
        "version, `make constraints`")


@pytest.mark.parametrize("requirement", DECLARED, ids=str)
def test_every_pin_is_within_pyprojects_range(requirement: Requirement) -> None:
    pinned = PINS.get(canonicalize_name(requirement.name))
    assert pinned is None or requirement.specifier.contains(pinned, prereleases=True), (
        f"{requirement.name}=={pinned} in .ci/constraints.txt is outside pyproject's {requirement}")


def test_extras_pull_in_what_the_team_setup_needs() -> None:
    extras = PROJECT["optional-dependencies"]
    team = {canonicalize_name(Requirement(r).name): Requirement(r) for r in extras["team"]}
    assert "auth" in team["mlflow"].extras and "psycopg" in team
    assert "nnx[team]" in extras["dev"]
    for module in ("flask_wtf", "psycopg"):  # mlflow[auth]'s server side, the PostgreSQL driver
        __import__(module)
