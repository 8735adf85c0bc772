"""experiment=perceptron_gates end to end: a multirun that prints which gates were learned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.slow


def test_perceptron_gates_prints_which_gates_it_learned(monkeypatch, capsys, tmp_path: Path) -> None:
    """30 of the experiment's 150 epochs: the perceptron learns AND, OR and NAND by epoch 20."""
    done = run_cli(["experiment=perceptron_gates", "trainer.max_epochs=30", "tracking=none",
                    f"hydra.sweep.dir={tmp_path}/sweep"], monkeypatch, capsys, tmp_path)
    assert done.code == 0, done.err[-2000:]
    table = done.out[done.out.index("job ") :]
    learned = dict(re.findall(r"^data=logic_(\w+)\s+[\d.]+\s+(yes|no)$", table, flags=re.M))
    assert learned == {"and": "yes", "or": "yes", "nand": "yes", "xor": "no"}
    assert len(list((tmp_path / "sweep").glob("*/nnx-trial.json"))) == 4  # each trial's outcome
