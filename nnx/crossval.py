"""k-fold cross-validation (``eval.folds=k``): one model per fold, then mean ± std.

The training and validation splits are pooled and cut into k folds: stratified and
shuffled by ``eval.fold_seed`` for classification, contiguous blocks in order for
regression. Fold i trains on the other folds and validates on fold i; the test split is
the same for every fold. Each fold is an MLflow child run of a parent run that logs every
metric's mean and std and the learning curves of all folds; the mean is what the run
returns, so a sweep can optimise it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from nnx.data import Splits
from nnx.errors import DataError
from nnx.runinfo import run_tags
from nnx.schema import validate
from nnx.sweep import trial_tags
from nnx.train import fit, flatten, load_data, log_curves, plugin_tags, resolved_config

__all__ = ["fold_splits", "summarize", "cross_validate"]


def fold_splits(splits: Splits, folds: int, seed: int) -> list[Splits]:
    """k ``Splits`` whose train/val are the pooled train+val cut into folds; test is kept."""
    import torch
    from sklearn.model_selection import KFold, StratifiedKFold

    x = torch.cat([splits.train[0], splits.val[0]])
    y = torch.cat([splits.train[1], splits.val[1]])
    if splits.spec.task == "classification":
        cutter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        cutter = KFold(folds)  # contiguous blocks: no shuffling of time-ordered samples
    try:
        parts = list(cutter.split(np.zeros(len(y)), y.cpu().numpy()))
    except ValueError as error:
        raise DataError(f"Cannot cut {len(y)} samples into {folds} folds: {error}") from None
    return [
        Splits((x[torch.as_tensor(train)], y[torch.as_tensor(train)]),
               (x[torch.as_tensor(val)], y[torch.as_tensor(val)]), splits.test, splits.spec)
        for train, val in parts
    ]


def summarize(fold_metrics: list[dict[str, float]]) -> dict[str, float]:
    """Every metric the folds share: its mean (same key) and population std (``key_std``)."""
    shared = set.intersection(*(set(m) for m in fold_metrics))
    summary: dict[str, float] = {}
    for key in sorted(shared):
        values = np.array([m[key] for m in fold_metrics])
        summary[key], summary[f"{key}_std"] = float(values.mean()), float(values.std())
    return summary


def _shown(metrics: dict[str, float]) -> list[str]:
    return [k for k in sorted(metrics) if k.startswith(("val/", "test/")) and not k.endswith("_std")]


def _report(fold_metrics: list[dict[str, float]], summary: dict[str, float], metric: str) -> str:
    lines = [f"cross-validation: {len(fold_metrics)} folds"]
    for i, metrics in enumerate(fold_metrics, 1):
        lines.append(f"  fold {i}  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in _shown(metrics)))
    width = max(len(k) for k in _shown(summary))
    for key in _shown(summary):
        marker = "  <- optimized_metric" if key == metric else ""
        lines.append(f"  {key:<{width}}  {summary[key]:.4f} ± {summary[key + '_std']:.4f}{marker}")
    return "\n".join(lines)


def cross_validate(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Train one model per fold; return the folds' mean ± std metrics and the objects."""
    import pytorch_lightning as pl

    from nnx.tracking import make_tracker

    recipe = validate(cfg)
    folds = fold_splits(load_data(recipe), recipe.run.eval.folds, recipe.run.eval.fold_seed)
    config = resolved_config(cfg)
    output_dir = Path(recipe.run.output_dir)
    parent = make_tracker(recipe.tracking)
    fold_metrics: list[dict[str, float]] = []
    histories: dict[str, list[dict[str, float]]] = {}
    tags = {**plugin_tags(recipe), **run_tags(config), **trial_tags(recipe.tracking),
            "nnx.folds": str(len(folds))}
    with parent.active(flatten(config), tags):
        parent.log_text(OmegaConf.to_yaml(config), "config.yaml")
        for i, fold in enumerate(folds, 1):
            pl.seed_everything(recipe.run.seed, workers=True, verbose=False)  # same start per fold
            metrics, objects = fit(recipe, fold, parent.child(f"fold-{i}"), {**config, "fold": i},
                                   {"nnx.fold": str(i)}, output_dir=output_dir / f"fold-{i}",
                                   artifacts=False)
            fold_metrics.append(metrics)
            histories[f"fold {i}"] = objects["history"]
        summary = summarize(fold_metrics)
        report = _report(fold_metrics, summary, recipe.run.optimized_metric)
        parent.log_metrics(summary, step=0)
        parent.log_text(report + "\n", "crossval.txt")
        if parent.run_id:
            log_curves(parent, histories, output_dir)
    if objects["trainer"].global_rank == 0:
        print(report, flush=True)
    return summary, {**objects, "tracker": parent, "folds": fold_metrics, "histories": histories}
