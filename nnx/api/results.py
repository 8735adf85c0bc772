"""What `nnx.run`, `nnx.sweep` and `nnx.search` return: a finished run, a finished sweep.

Plain data a notebook can show and a script can act on: metrics, ids, the run's folder, the
per-epoch history and a sweep's trials as pandas DataFrames, and the trained model.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Run", "Sweep", "history_frame"]


def history_frame(objects: dict[str, Any]) -> pd.DataFrame:
    """One row per epoch (``epoch`` from 1, then the metrics); a k-fold or multi-seed run's
    parts one after the other, told apart by ``part`` (``fold 1``, ``seed 42``)."""
    parts = objects.get("histories") or {"": objects.get("history") or []}
    frames = []
    for label, rows in parts.items():
        frame = pd.DataFrame(rows)
        frame.insert(0, "epoch", range(1, len(frame) + 1))
        if label:
            frame.insert(0, "part", label)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclasses.dataclass
class Run:
    """A finished run: what `nnx` prints, as values.

    Attributes:
        metrics: every metric of the run (``test/acc``, ``val/loss``...; a k-fold or
            multi-seed run: each metric's mean and ``_std``).
        run_id: its MLflow run id (None with ``tracking=none``).
        run_dir: its folder (``outputs/runs/...``): config, checkpoints, predictor, figures.
        history: one row per epoch of the training and validation metrics.
        config: the resolved config the run trained with (credentials masked).
    """

    metrics: dict[str, float]
    run_id: str | None
    run_dir: Path
    history: pd.DataFrame
    config: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    tracking_uri: str | None = dataclasses.field(default=None, repr=False)

    @property
    def figures(self) -> dict[str, Path]:
        """The figures in the run dir, by name (``learning_curves``)."""
        return {p.stem: p for p in sorted(self.run_dir.glob("*.png"))}

    @functools.cached_property
    def predictor(self) -> Any:
        """The trained model with its preprocessing (`nnx.load` of this run)."""
        from nnx.api.loading import load

        return load(str(self.run_dir), tracking_uri=self.tracking_uri)

    def __repr__(self) -> str:
        shown = {k: round(v, 4) for k, v in sorted(self.metrics.items())
                 if k.startswith("test/") and "/baseline_" not in k and not k.endswith("_std")}
        return f"Run(run_id={self.run_id!r}, run_dir='{self.run_dir}', test={shown})"


@dataclasses.dataclass
class Sweep:
    """A finished sweep or search: its trials side by side and the best of them.

    Attributes:
        trials: one row per trial: ``trial``, ``state`` (FINISHED, FAILED, PRUNED, SKIPPED),
            the optimized ``value``, ``run_id``, then each swept param (``optimizer.lr``) and
            each metric (``test/acc``).
        best: the best trial as a `Run` (None when no trial finished).
        parent_run_id: the MLflow run that holds the trials as children.
        sweep_dir: its folder (``outputs/multiruns/...``), one sub-folder per trial.
        metric, direction: what ranks the trials (``val/loss``, ``minimize``).
    """

    trials: pd.DataFrame
    best: Run | None
    parent_run_id: str | None
    sweep_dir: Path
    metric: str
    direction: str

    def __repr__(self) -> str:
        states = self.trials["state"].value_counts().to_dict() if len(self.trials) else {}
        return (f"Sweep(trials={len(self.trials)} {states}, {self.metric} {self.direction}, "
                f"best={self.best!r}, parent_run_id={self.parent_run_id!r})")

