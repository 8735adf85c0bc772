"""Every metric name a command mentions is checked before any data is loaded: an unknown one
(or a search direction that contradicts its metric) is one line and exit 2, as users see it."""

from __future__ import annotations

import re

import pytest

from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.e2e

FAST = ["trainer.max_epochs=1", "trainer.accelerator=cpu", "trainer.progress=false", "tracking=none"]


@pytest.mark.parametrize(("overrides", "message"), [
    (["optimized_metric=val/presicion"],
     "nnx: error: Unknown metric 'val/presicion' in 'optimized_metric'. Did you mean 'val/precision'?"),
    (["metrics=[acc]", "callbacks=[early_stopping]", "callbacks.early_stopping.monitor=val/auroc"],
     "nnx: error: Unknown metric 'val/auroc' in 'callbacks.early_stopping.monitor'. Logged: val/loss, "
     "val/acc. Add it: metrics=[acc,auroc]."),
    (["metrics=[f1,aucroc]"], "nnx: error: Unknown metrics option 'aucroc'. Did you mean 'auroc'?"),
    (["-m", "hparams_search=mlp_optuna", "optimized_metric=val/f1"],
     "nnx: error: Bad value for 'hydra.sweeper.direction': 'minimize'; expected maximize for val/f1"),
])
def test_unknown_or_contradicted_metric_is_one_line_and_exit_2(
        monkeypatch, capsys, tmp_path, overrides: list[str], message: str) -> None:
    outcome = run_cli([*overrides, *FAST], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert re.match(re.escape(message), outcome.err), outcome.err
    assert len(outcome.err.strip().splitlines()) == 1
    assert "data digits" not in outcome.text  # refused before the data was loaded

