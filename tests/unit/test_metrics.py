"""Metrics as plugins: values equal scikit-learn's, each task's defaults, directions, and every
metric name a config mentions checked before any data is loaded."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from nnx.config import validate
from nnx.config.metrics import AUTO, UnknownMetricError, check_direction, direction
from nnx.data.spec import DataSpec
from nnx.errors import ConfigValueError, UnknownNameError
from nnx.training.measure import build_scores

BINARY = DataSpec((4,), "classification", num_classes=2)
MULTICLASS = DataSpec((4,), "classification", num_classes=4)
REGRESSION = DataSpec((4,), "regression", num_targets=2)


def _values(spec: DataSpec, out: torch.Tensor, y: torch.Tensor, *names: str) -> dict[str, float]:
    return build_scores(((n, None) for n in names), False, spec).values(out, y, "test")


def test_binary_metrics_equal_sklearn() -> None:
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300,), generator=generator)
    out = torch.randn(300, 1, generator=generator) + y.unsqueeze(1) * 0.8
    found = _values(BINARY, out, y, "acc", "precision", "recall", "f1", "auroc", "average_precision")
    prob, label, truth = out.view(-1).sigmoid().double().numpy(), (out.view(-1) > 0).numpy(), y.numpy()
    assert found["test/acc"] == pytest.approx(sk.accuracy_score(truth, label), abs=1e-6)
    assert found["test/precision"] == pytest.approx(sk.precision_score(truth, label), abs=1e-6)
    assert found["test/recall"] == pytest.approx(sk.recall_score(truth, label), abs=1e-6)
    assert found["test/f1"] == pytest.approx(sk.f1_score(truth, label), abs=1e-6)
    assert found["test/auroc"] == pytest.approx(sk.roc_auc_score(truth, prob), abs=1e-6)
    assert found["test/average_precision"] == pytest.approx(sk.average_precision_score(truth, prob), abs=1e-6)


def test_multiclass_metrics_equal_sklearn_macro_and_one_vs_rest() -> None:
    generator = torch.Generator().manual_seed(1)
    y = torch.randint(0, 4, (400,), generator=generator)
    out = torch.randn(400, 4, generator=generator) + torch.nn.functional.one_hot(y, 4) * 1.2
    found = _values(MULTICLASS, out, y, "acc", "precision", "recall", "f1", "auroc", "average_precision")
    prob, label, truth = out.softmax(-1).double().numpy(), out.argmax(-1).numpy(), y.numpy()
    assert found["test/acc"] == pytest.approx(sk.accuracy_score(truth, label), abs=1e-6)
    assert found["test/f1"] == pytest.approx(sk.f1_score(truth, label, average="macro"), abs=1e-6)
    macro_precision = sk.precision_score(truth, label, average="macro")
    assert found["test/precision"] == pytest.approx(macro_precision, abs=1e-6)
    assert found["test/recall"] == pytest.approx(sk.recall_score(truth, label, average="macro"), abs=1e-6)
    assert found["test/auroc"] == pytest.approx(sk.roc_auc_score(truth, prob, multi_class="ovr"), abs=1e-6)
    onehot = np.eye(4)[truth]
    assert found["test/average_precision"] == pytest.approx(
        sk.average_precision_score(onehot, prob, average="macro"), abs=1e-6)


@pytest.mark.parametrize("average", ["weighted", "micro", "macro"])
def test_averaging_is_configurable_and_shares_one_count(average: str) -> None:
    from nnx.training.metrics import AveragedConfig

    # class 3 is never predicted: its precision divides by zero, as in sklearn's zero_division=0
    y, out = torch.tensor([0, 0, 0, 1, 2, 3]), torch.eye(4)[[0, 0, 1, 1, 2, 0]]
    chosen = [(name, AveragedConfig(average=average)) for name in ("f1", "precision", "recall")]
    found = build_scores(chosen, False, MULTICLASS).values(out, y, "val")
    label = out.argmax(-1)
    references = {"f1": sk.f1_score, "precision": sk.precision_score, "recall": sk.recall_score}
    for name, reference in references.items():
        expected = reference(y, label, average=average, zero_division=0)
        assert found[f"val/{name}"] == pytest.approx(expected, abs=1e-6), name


def test_regression_metrics_equal_sklearn() -> None:
    generator = torch.Generator().manual_seed(2)
    y = torch.randn(200, 2, generator=generator)
    out = y + 0.3 * torch.randn(200, 2, generator=generator)
    found = _values(REGRESSION, out, y, "mae", "mse", "rmse", "r2")
    truth, pred = y.double().numpy(), out.double().numpy()
    assert found["test/r2"] == pytest.approx(sk.r2_score(truth, pred), abs=1e-6)
    assert found["test/mae"] == pytest.approx(sk.mean_absolute_error(truth, pred), abs=1e-6)
    assert found["test/rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(truth, pred)), abs=1e-6)


@pytest.mark.parametrize(("spec", "task"), [
    (BINARY, "binary"), (MULTICLASS, "multiclass"), (REGRESSION, "regression"),
    (DataSpec((8, 1), "regression", kind="sequence", forecast=True), "forecast"),
])
def test_auto_is_the_tasks_defaults(spec: DataSpec, task: str) -> None:
    assert build_scores((), True, spec).names == list(AUTO[task])
    extra = "mse" if spec.task == "regression" else "acc"
    assert build_scores([(extra, None)], True, spec).names == list(dict.fromkeys([*AUTO[task], extra]))


def test_binary_and_multiclass_defaults_are_the_ones_documented() -> None:
    assert AUTO["binary"] == ("acc", "precision", "recall", "f1", "auroc", "average_precision")
    assert set(AUTO["multiclass"]) == {"acc", "f1", "precision", "recall", "auroc"}
    assert AUTO["regression"] == ("mae", "rmse", "r2") and AUTO["forecast"] == ("mae", "rmse")


def test_a_metric_that_does_not_fit_the_task_is_one_line() -> None:
    with pytest.raises(ConfigValueError, match=re.escape(
            "Bad value for 'metrics': 'r2'; expected metrics that fit this multiclass task: acc,")):
        build_scores([("r2", None)], False, MULTICLASS)


def test_ranking_metrics_run_each_epoch_only_where_watched() -> None:
    y, out = torch.tensor([0, 1, 1, 0]), torch.tensor([[-1.0], [2.0], [0.5], [0.2]])
    scores = build_scores((), True, BINARY, watched={"val/auroc"})
    every = {f"val/{n}" for n in AUTO["binary"]}
    assert set(scores.values(out, y, "val")) == every - {"val/average_precision"}
    assert "train/auroc" not in scores.values(out, y, "train")
    assert set(scores.values(out, y, "test")) == {f"test/{n}" for n in AUTO["binary"]}


def test_direction_is_declared_by_each_metric() -> None:
    assert [direction(k) for k in ("val/f1", "test/auroc", "val/r2", "val/acc")] == ["max"] * 4
    assert [direction(k) for k in ("val/loss", "val/mae", "test/rmse", "train/lr")] == ["min"] * 4
    assert direction("test/baseline_f1") == "max" and direction("conv/val/acc_std") == "max"
    assert direction("test/baseline_last_mae") == "min"


def test_direction_imports_neither_torch_nor_lightning() -> None:
    code = ("import sys; from nnx.config.metrics import direction; "
            "assert direction('val/f1') == 'max' and direction('val/mae') == 'min'; "
            "print(sorted(m for m in ('torch', 'pytorch_lightning', 'mlflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_contradicting_search_direction_is_one_line() -> None:
    check_direction("hydra.sweeper.direction", "maximize", "val/f1")
    with pytest.raises(ConfigValueError, match=re.escape(
            "Bad value for 'hydra.sweeper.direction': 'minimize'; expected maximize for val/f1")):
        check_direction("hydra.sweeper.direction", "minimize", "val/f1")


@pytest.mark.parametrize(("overrides", "message"), [
    (["optimized_metric=val/presicion"],
     "Unknown metric 'val/presicion' in 'optimized_metric'. Did you mean 'val/precision'? Logged: "
     "val/loss, "),
    (["+callbacks.early_stopping.monitor=val/aucroc"],
     "Unknown metric 'val/aucroc' in 'callbacks.early_stopping.monitor'. Did you mean 'val/auroc'?"),
    (["metrics=[acc]", "callbacks=[checkpoint]", "callbacks.checkpoint.monitor=val/auroc"],
     "Unknown metric 'val/auroc' in 'callbacks.checkpoint.monitor'. Logged: val/loss, val/acc. "
     "Add it: metrics=[acc,auroc]."),
    (["scheduler=plateau", "scheduler.monitor=val/los"],
     "Unknown metric 'val/los' in 'scheduler.monitor'. Did you mean 'val/loss'?"),
])
def test_unknown_metric_names_fail_before_the_data(make_cfg, overrides: list[str], message: str) -> None:
    with pytest.raises(UnknownMetricError, match=re.escape(message)) as info:
        validate(make_cfg(*overrides, tracking=False))
    assert "\n" not in str(info.value)


def test_an_unknown_metric_plugin_is_one_line(make_cfg) -> None:
    from nnx.cli.errors import explain

    with pytest.raises(Exception) as info:  # Hydra: no such option in the metrics group
        make_cfg("metrics=[f1,aucroc]", tracking=False)
    error = explain(info.value)
    assert isinstance(error, UnknownNameError)
    assert str(error).startswith("Unknown metrics option 'aucroc'. Did you mean 'auroc'?")


def test_metric_names_are_checked_again_with_the_datas_task(make_cfg) -> None:
    from nnx.training.measure import scores_for

    recipe = validate(make_cfg("optimized_metric=val/r2", tracking=False))  # some task logs it
    with pytest.raises(UnknownMetricError, match=re.escape(
            "Unknown metric 'val/r2' in 'optimized_metric' (with multiclass data). Logged: val/loss, "
            "val/acc, val/f1, val/precision, val/recall, val/auroc. r2 does not fit multiclass data.")):
        scores_for(recipe, MULTICLASS)


def test_selected_metrics_and_their_options_reach_the_recipe(make_cfg) -> None:
    recipe = validate(make_cfg("metrics=[auto,mse]", "metrics.mse={}", tracking=False))
    assert recipe.metrics.auto and [c.plugin.name for c in recipe.metrics.chosen] == ["mse"]
    recipe = validate(make_cfg("metrics=[f1]", "metrics.f1.average=weighted", "optimized_metric=val/f1",
                               tracking=False))
    assert not recipe.metrics.auto and recipe.metrics.chosen[0].config.average == "weighted"
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'metrics.f1.average': 'mean'")):
        validate(make_cfg("metrics=[f1]", "metrics.f1.average=mean", tracking=False))


def test_an_epoch_is_measured_over_every_ranks_outputs() -> None:
    """Under DDP each rank holds part of the split: its outputs are gathered before the metrics
    (here the other rank's half is what `gather` adds), so macro F1 is the whole split's."""
    from nnx.training.measure import Meter

    generator = torch.Generator().manual_seed(3)
    y = torch.randint(0, 4, (64,), generator=generator)
    out = torch.randn(64, 4, generator=generator)
    scores = build_scores((), True, MULTICLASS)
    meter = Meter()
    for part in range(0, 32, 8):  # this rank's four batches: the first half
        meter.update(torch.tensor(1.0), out[part:part + 8], y[part:part + 8])
    gather = lambda t: torch.cat([t, (out if t.dim() == 2 else y)[32:]])  # noqa: E731
    reduce = lambda t: t * 2  # noqa: E731  the other rank: the same loss sums
    found = meter.compute("val", scores, reduce, gather)
    whole = scores.values(out, y, "val")
    assert found == pytest.approx({"val/loss": 1.0, **whole})
    assert found["val/f1"] == pytest.approx(sk.f1_score(y, out.argmax(-1), average="macro"), abs=1e-6)


def test_nnx_plugins_shows_how_a_metric_compares_and_how_to_select_it() -> None:
    from nnx.config.describe import details
    from nnx.registry import get_plugin

    shown = details(get_plugin("metrics", "auroc"))
    assert "override with: nnx metrics=[auroc] metrics.auroc.FIELD=VALUE" in shown
    assert "better: max; reads probabilities; fits binary, multiclass" in shown


def test_a_ranking_of_one_class_is_nan_and_quiet(recwarn) -> None:
    import math

    found = _values(BINARY, torch.tensor([[0.3], [-0.2]]), torch.tensor([0, 0]), "auroc", "f1")
    assert math.isnan(found["test/auroc"]) and found["test/f1"] == 0.0
    assert not [w for w in recwarn if "torchmetrics" in w.filename]


def test_a_multi_objective_search_gets_its_ranking_metric_each_epoch(tmp_path) -> None:
    from hydra import compose, initialize_config_module
    from hydra.core.hydra_config import HydraConfig

    from nnx.training.measure import scores_for

    overrides = ["hparams_search=mlp_optuna", "hydra.sweeper.direction=null",
                 "hydra.sweeper.metrics=[val/loss,val/auroc]", f"output_dir={tmp_path}"]
    with initialize_config_module("nnx_conf", version_base="1.3"):
        config = compose("train", overrides=overrides, return_hydra_config=True)
        trial = compose("train", overrides=overrides)
    HydraConfig.instance().set_config(config)
    try:
        scores = scores_for(validate(trial), MULTICLASS)
    finally:
        HydraConfig.instance().cfg = None
    assert "val/auroc" in scores.values(torch.randn(8, 4), torch.arange(8) % 4, "val")
