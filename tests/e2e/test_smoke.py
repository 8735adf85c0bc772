"""The smallest end-to-end checks: a composed config trains in process."""

from __future__ import annotations

import pytest

from nnx.training.pipeline import run

pytestmark = pytest.mark.e2e


def test_debug_run_trains_one_epoch(make_cfg) -> None:
    metrics, objects = run(make_cfg("debug=default", tracking=False))
    assert objects["trainer"].current_epoch == 1
    assert 0.0 <= metrics["test/acc"] <= 1.0
