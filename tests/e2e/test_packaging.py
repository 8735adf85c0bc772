"""The wheel carries the config tree and the built-in plugins, not only the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_configs_plugins_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("nnx-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    conf = {str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml")}
    assert {f"nnx_conf/{c}" for c in conf} <= names
    launcher = ROOT / "nnx" / "sweeps" / "launcher"  # installed where Hydra looks for launchers
    sweeper = ROOT / "nnx" / "sweeps" / "search"  # ... and for sweepers
    modules = {f"nnx/{p.relative_to(ROOT / 'nnx')}" for p in (ROOT / "nnx").rglob("*.py")
               if launcher not in p.parents and sweeper not in p.parents}
    modules |= {f"nnx_plugins/{p.relative_to(ROOT / 'plugins')}" for p in (ROOT / "plugins").rglob("*.py")}
    modules |= {f"hydra_plugins/nnx_launcher/{p.name}" for p in launcher.glob("*.py")}
    modules |= {f"hydra_plugins/nnx_search/{p.name}" for p in sweeper.glob("*.py")}
    assert modules <= names, sorted(modules - names)  # every subpackage is listed in pyproject
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[nnx.models]" in text and "mlp = nnx_plugins.mlp:mlp" in text
    assert "nnx-plugins = nnx.cli.plugins:main" in text
