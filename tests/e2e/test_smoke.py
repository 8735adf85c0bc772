"""The smallest end-to-end checks: a composed config trains in process."""

from __future__ import annotations

import math

from nnx.training.pipeline import run


def test_debug_run_trains_one_epoch(make_cfg) -> None:
    metrics, objects = run(make_cfg("debug=default", tracking=False))
    assert objects["trainer"].current_epoch == 1
    test_y = objects["splits"].test[1]
    classes = objects["splits"].spec.num_outputs
    majority = test_y.bincount().max().item() / len(test_y)  # always guessing the commonest class
    assert metrics["test/acc"] > 3 * majority  # digits: ~0.10; one epoch of the MLP reaches ~0.66
    assert metrics["test/loss"] < math.log(classes)  # better than predicting uniform odds
