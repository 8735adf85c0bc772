"""The wheel carries the config tree and the built-in plugins, not only the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_configs_plugins_and_entry_points(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: setuptools writes nnx.egg-info beside pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("nnx", "plugins", "conf", "hydra_plugins"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("nnx-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    conf = {str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml")}
    assert {f"nnx_conf/{c}" for c in conf} <= names
    modules = {f"nnx/{p.relative_to(ROOT / 'nnx')}" for p in (ROOT / "nnx").rglob("*.py")}
    modules |= {f"nnx_plugins/{p.relative_to(ROOT / 'plugins')}" for p in (ROOT / "plugins").rglob("*.py")}
    # Hydra's namespace package (no __init__.py of its own): where it finds launchers and sweepers
    modules |= {str(p.relative_to(ROOT)) for p in (ROOT / "hydra_plugins").rglob("*.py")}
    assert "hydra_plugins/__init__.py" not in names
    assert modules <= names, sorted(modules - names)  # every subpackage is listed in pyproject
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[nnx.models]" in text and "mlp = nnx_plugins.mlp:mlp" in text
    assert "nnx-plugins = nnx.cli.plugins:main" in text
