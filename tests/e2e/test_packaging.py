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
    assert {"nnx/cli.py", "nnx_plugins/mlp.py", "nnx_plugins/datasets/logic_gates.py"} <= names
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[nnx.models]" in text and "mlp = nnx_plugins.mlp:mlp" in text
    assert "nnx-plugins = nnx.cli:plugins_main" in text
