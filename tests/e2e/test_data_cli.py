"""The data plugins through the `nnx` command: errors exit 2 in one line."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_missing_image_files_exit_2_without_traceback(run_nnx, tmp_path) -> None:
    result = run_nnx("data=mnist", f"data.root={tmp_path}", "tracking=none")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("nnx: error: MNIST files not found")
