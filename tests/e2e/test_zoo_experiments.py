"""experiment=perceptron_gates end to end: a multirun that prints which gates were learned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_perceptron_gates_prints_which_gates_it_learned(run_nnx, tmp_path: Path) -> None:
    done = run_nnx("experiment=perceptron_gates", "tracking=none", f"hydra.sweep.dir={tmp_path}/sweep")
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout[done.stdout.index("job ") :]
    learned = dict(re.findall(r"^data=logic_(\w+)\s+[\d.]+\s+(yes|no)$", table, flags=re.M))
    assert learned == {"and": "yes", "or": "yes", "nand": "yes", "xor": "no"}
    assert len(list((tmp_path / "sweep").glob("*/nnx-trial.json"))) == 4  # each trial's outcome
