"""Real trainings of the architecture zoo, kept small: accuracies and multi-phase training."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from nnx.training.pipeline import run

FAST = ("optimizer.lr=3e-3",)
MODULES = (
    "+model.modules.conv={name:cnn,channels:[8],batch_norm:true,dense:[32]}",
    "+model.modules.seq={name:gru,hidden:16}",
    "+model.inputs.seq='0:4'",  # the GRU reads only the left half of each row: the weak one
)


def test_digits_cnn_reaches_97_percent(make_cfg) -> None:
    metrics, _ = run(make_cfg("model=cnn", "trainer.max_epochs=20", *FAST, tracking=False))
    assert metrics["test/acc"] >= 0.97


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_nets_learn_digits_read_row_by_row(make_cfg, cell: str) -> None:
    cfg = make_cfg(f"model={cell}", "trainer.max_epochs=15", *FAST, tracking=False)
    metrics, objects = run(cfg)
    assert type(objects["model"].rnn).__name__ == cell.upper()
    assert metrics["test/acc"] >= 0.85  # chance is 0.10


class OptimizerWatch(pl.Callback):
    """Per fit: which parameters the optimizer holds, and the state before and after."""

    def __init__(self) -> None:
        self.fits: list[dict] = []

    @staticmethod
    def _state(module: torch.nn.Module) -> dict[int, torch.Tensor]:
        tensors = [*module.parameters(), *module.buffers()]
        return {id(t): t.detach().clone() for t in tensors}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        held = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
        self.fits.append({"held": held, "before": self._state(pl_module.model)})

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fits[-1]["after"] = self._state(pl_module.model)


def _ids(module: torch.nn.Module) -> set[int]:
    return {id(p) for p in module.parameters()}


def test_independent_modules_change_only_in_their_own_phase(make_cfg, mlflow_uri) -> None:
    from mlflow import MlflowClient

    watch = OptimizerWatch()
    cfg = make_cfg("model=modular", "model.training=independent", *MODULES,
                   "trainer.max_epochs=3", "model.combiner_epochs=2", "eval.report=false", *FAST)
    metrics, objects = run(cfg, callbacks=[watch])
    model = objects["model"]
    assert [r.phase.name for r in objects["phases"]] == ["conv", "seq", ""]
    owners = [model.branches["conv"], model.branches["seq"], model.combiner]
    for fit, owner in zip(watch.fits, owners, strict=True):
        assert fit["held"] == _ids(owner)  # nothing else can be stepped in this phase
        changed = {k for k in fit["before"] if not torch.equal(fit["before"][k], fit["after"][k])}
        assert changed and changed <= _ids(owner) | {id(b) for b in owner.buffers()}
    final = watch.fits[-1]
    for name in ("conv", "seq"):
        own = watch.fits[["conv", "seq"].index(name)]["after"]
        for p in [*model.branches[name].parameters(), *model.branches[name].buffers()]:
            # frozen in the combiner phase (batch-norm statistics too) and untouched after it
            assert torch.equal(final["before"][id(p)], final["after"][id(p)])
            assert torch.equal(own[id(p)], p.detach())

    history = MlflowClient(mlflow_uri).get_metric_history
    run_id = objects["tracker"].run_id
    assert len(history(run_id, "conv/val/acc")) == 3 and len(history(run_id, "seq/train/loss")) == 3
    assert len(history(run_id, "val/acc")) == 2
    for key in ("conv/test/acc", "seq/test/acc", "test/acc"):
        assert history(run_id, key)[-1].value == pytest.approx(metrics[key])
    summary = MlflowClient(mlflow_uri).download_artifacts(run_id, "model_summary.txt")
    assert "branches.conv (cnn: Branch)" in open(summary).read()


def test_modular_beats_its_weakest_module_in_both_modes(make_cfg) -> None:
    def modular(training: str) -> dict[str, float]:
        # 5 epochs: the combined model 0.84 (independent) and 0.91 (joint), the GRU 0.39
        cfg = make_cfg("model=modular", f"model.training={training}", *MODULES,
                       "trainer.max_epochs=5", *FAST, tracking=False)
        return run(cfg)[0]

    independent = modular("independent")
    weakest = min(independent["conv/test/acc"], independent["seq/test/acc"])
    assert independent["test/acc"] > weakest + 0.02
    assert modular("joint")["test/acc"] > weakest + 0.02


@pytest.mark.parametrize("combiner", ["mean", "gate"])
def test_modular_combiners_train(make_cfg, combiner: str) -> None:
    metrics, objects = run(make_cfg("model=modular", f"model.combiner={combiner}",
                                    "model.training=independent", "trainer.max_epochs=3", *FAST,
                                    tracking=False))
    assert metrics["test/acc"] > 0.5
    if combiner == "mean":  # nothing to learn: the combined phase only validates and tests
        assert "train/loss" not in metrics and "val/acc" in metrics
