"""k-fold cross-validation (``eval.folds=k``): one model per fold, then mean ± std.

The training and validation splits are pooled and cut into k folds: stratified and
shuffled by ``eval.fold_seed`` for classification, contiguous blocks in order for
regression. Fold i trains on the other folds and validates on fold i; the test split is
the same for every fold. Each fold is an MLflow child run of a parent run that logs every
metric's mean and std and the learning curves of all folds; the mean is what the run
returns, so a sweep can optimise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from nnx.config.identity import plugin_tags
from nnx.config.recipe import Recipe
from nnx.data.spec import Splits
from nnx.data.splits import fold_splits
from nnx.errors import ConfigValueError
from nnx.tracking.params import flatten
from nnx.tracking.tracker import Tracker
from nnx.training.evaluation import dataset_inputs, log_curves
from nnx.training.fit import fit

__all__ = ["summarize", "report", "record_group", "cross_validate"]


def summarize(fold_metrics: list[dict[str, float]]) -> dict[str, float]:
    """Every metric the folds share: its mean (same key) and population std (``key_std``).

    Stds that the parts report themselves (``key_std``, the folds of one seed) are left out.
    """
    shared = {k for k in set.intersection(*(set(m) for m in fold_metrics)) if not k.endswith("_std")}
    summary: dict[str, float] = {}
    for key in sorted(shared):
        values = np.array([m[key] for m in fold_metrics])
        summary[key], summary[f"{key}_std"] = float(values.mean()), float(values.std())
    return summary


def _shown(metrics: dict[str, float]) -> list[str]:
    return [k for k in sorted(metrics) if k.startswith(("val/", "test/")) and not k.endswith("_std")]


def report(title: str, parts: dict[str, dict[str, float]], summary: dict[str, float], metric: str) -> str:
    """``title``, one line per part (a fold, a seed) and each metric's mean ± std."""
    lines = [title]
    for label, metrics in parts.items():
        lines.append(f"  {label}  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in _shown(metrics)))
    width = max(len(k) for k in _shown(summary))
    for key in _shown(summary):
        marker = "  <- optimized_metric" if key == metric else ""
        lines.append(f"  {key:<{width}}  {summary[key]:.4f} ± {summary[key + '_std']:.4f}{marker}")
    return "\n".join(lines)


def record_group(tracker: Tracker, recipe: Recipe, title: str, parts: dict[str, dict[str, float]],
                 histories: dict[str, list[dict[str, float]]], artifact: str, rank: int) -> dict[str, float]:
    """Close a group of runs (folds, seeds) on its parent: mean ± std as the parent's metrics,
    the report as ``artifact``, every part's learning curves; the report printed once."""
    summary = summarize(list(parts.values()))
    text = report(title, parts, summary, recipe.run.optimized_metric)
    tracker.log_metrics(summary, step=0)
    tracker.log_text(text + "\n", artifact)
    if tracker.run_id:
        log_curves(tracker, histories, Path(recipe.run.output_dir))
    if rank == 0:
        print(text, flush=True)
    return summary


def cross_validate(
    recipe: Recipe, splits: Splits, tracker: Tracker, tags: dict[str, str], *,
    callbacks: Sequence[Any] = (), resume: Any = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train one model per fold with the shared fit step; return mean ± std and the objects.

    ``tracker`` holds the parent run; each fold is its child.
    """
    import pytorch_lightning as pl

    if resume is not None:
        raise ConfigValueError("resume", str(resume.run_dir), "a run without eval.folds "
                               "(a cross-validated run restarts; it cannot be continued)")
    folds = fold_splits(splits, recipe.run.eval.folds, recipe.run.eval.fold_seed)
    config = recipe.config
    output_dir = Path(recipe.run.output_dir)
    fold_metrics: list[dict[str, float]] = []
    histories: dict[str, list[dict[str, float]]] = {}
    tags = {**plugin_tags(recipe), **tags, "nnx.folds": str(len(folds))}
    with tracker.active(flatten(config), tags):
        tracker.log_text(OmegaConf.to_yaml(config), "config.yaml")
        if tracker.run_id:
            tracker.log_datasets(dataset_inputs(recipe, splits))
        for i, fold in enumerate(folds, 1):
            pl.seed_everything(recipe.run.seed, workers=True, verbose=False)  # same start per fold
            metrics, objects = fit(recipe, fold, tracker.child(f"fold-{i}"), {"nnx.fold": str(i)},
                                   config={**config, "fold": i}, callbacks=callbacks,
                                   output_dir=output_dir / f"fold-{i}", artifacts=False)
            fold_metrics.append(metrics)
            histories[f"fold {i}"] = objects["history"]
        summary = record_group(tracker, recipe, f"cross-validation: {len(folds)} folds",
                               {f"fold {i}": m for i, m in enumerate(fold_metrics, 1)},
                               histories, "crossval.txt", rank=objects["trainer"].global_rank)
    return summary, {**objects, "tracker": tracker, "folds": fold_metrics, "histories": histories}
