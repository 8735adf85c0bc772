"""The layers and the dependencies are part of the suite, not only of `make lint`.

- import-linter checks the contracts of ``[tool.importlinter]`` in pyproject.toml: each stage
  of nnx imports only the stages below it, plugins reach nnx only through its plugin-facing
  parts, and no import cycle anywhere in nnx or the plugins.
- ruff checks the style and the security rules of ``[tool.ruff.lint]``: no eval/exec, no
  pickle.load(s), torch.load only where ``weights_only=True`` is acknowledged.
- deptry checks ``[project.dependencies]`` against the imports: nothing imported that is not
  declared (or only pulled in by another package), nothing declared that is never used.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_import_contracts_are_kept() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    done = _tool("lint-imports", "--no-cache", "--no-logo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout, done.stdout


def test_dependencies_are_declared_and_used() -> None:
    done = _tool("deptry", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_lint_rules_hold() -> None:
    done = _tool("ruff", "check", "nnx", "plugins", "hydra_plugins", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr
