"""What a task measures: each split's loss and selected metrics, once per epoch.

A step only keeps its loss and detached outputs; at the end of the epoch they are joined
(gathered from every rank under DDP, so each metric sees the whole split) and every metric
is computed in one call of torchmetrics' functional API, with one device sync for all of
them. Metrics that rank probabilities (auroc, average_precision) sort the split per class:
on the train and val splits they are computed every epoch only when a config watches them
(``optimized_metric``, a ``monitor``); on the test split always.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from nnx.config.metrics import AUTO, check_names, declared
from nnx.config.recipe import Recipe, watched
from nnx.data.baselines import trivial_outputs
from nnx.data.spec import DataSpec, Splits
from nnx.errors import ConfigValueError
from nnx.models.outputs import predict
from nnx.registry import get_plugin
from nnx.training.metrics import Counted, task_of

__all__ = ["Metric", "Scores", "Meter", "build_scores", "scores_for"]


@dataclass(frozen=True)
class Metric:
    """One selected metric, built for the data: its name, what it reads, its function."""

    name: str
    reads: str
    fn: Callable[[torch.Tensor, torch.Tensor], Any]

    def __call__(self, preds: torch.Tensor, target: torch.Tensor,
                 counts: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The value on ``(preds, target)``; a `Counted` metric reduces ``counts`` of them when given."""
        if self.reads == "probabilities" and target.unique().numel() < 2:
            return preds.new_tensor(math.nan)  # a ranking of one class is undefined
        with warnings.catch_warnings():  # torchmetrics warns, once per epoch, of a class absent
            warnings.filterwarnings("ignore", module="torchmetrics")
            value = self.fn.reduce(**counts) if counts is not None else self.fn(preds, target)
        if hasattr(self.fn, "reset"):  # a stateful torchmetrics Metric: one epoch per use
            self.fn.reset()
        return torch.as_tensor(value, dtype=torch.float32, device=preds.device).reshape(())


def build_scores(chosen: Iterable[tuple[str, Any]], auto: bool, spec: DataSpec,
                 watched: Iterable[str] = ()) -> Scores:
    """The run's metrics for ``spec``: the task's defaults when ``auto``, then each chosen
    ``(name, config)``; a metric that does not fit the task fails with one line."""
    task = task_of(spec)
    configs = {name: None for name in AUTO[task]} if auto else {}
    configs.update(dict(chosen))
    metrics = []
    for name, config in configs.items():
        plugin, declaration = get_plugin("metrics", name), declared(name)
        if task not in declaration.tasks:
            fits = [m for m in _all_names() if task in declared(m).tasks]
            raise ConfigValueError("metrics", name, f"metrics that fit this {task} task: {', '.join(fits)}")
        metrics.append(Metric(name, declaration.reads, plugin(config or plugin.config(), spec)))
    return Scores(metrics, spec, set(watched))


def scores_for(recipe: Recipe, spec: DataSpec) -> Scores:
    """The metrics ``recipe`` selects, built for ``spec``; once the data's task is known, every
    metric key the config names is checked again against what the run will log."""
    names = watched(recipe)
    chosen = ((c.plugin.name, c.config) for c in recipe.metrics.chosen)
    keys = [*names.values(), *_searched()]
    scores = build_scores(chosen, recipe.metrics.auto, spec,
                          watched={"/".join(str(key).split("/")[-2:]) for key in keys})
    check_names(names, scores.names, task_of(spec))
    return scores


def _searched() -> list[str]:
    """The metrics a multi-objective search reads at the end of this trial (``hydra.sweeper.metrics``)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return []
    return list(OmegaConf.select(HydraConfig.get(), "sweeper.metrics", default=None) or [])


def _all_names() -> list[str]:
    from nnx.registry import list_plugins

    return list_plugins("metrics")


class Scores:
    """The metrics of a run, computed from one split's whole-epoch outputs."""

    def __init__(self, metrics: list[Metric], spec: DataSpec, watched: set[str]) -> None:
        self.metrics, self.spec, self.watched = metrics, spec, watched
        #: A binary target's decision threshold on the positive class's probability
        #: (``eval.threshold``; `nnx.training.threshold` tunes it before the test).
        self.threshold = 0.5

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def _inputs(self, out: torch.Tensor, y: torch.Tensor, reads: str) -> tuple[torch.Tensor, ...]:
        if reads == "values":
            return out.reshape(y.shape) if out.numel() == y.numel() else out, y.to(out.dtype)
        if reads == "labels":
            return predict(out, self.spec, self.threshold), y
        probabilities = out.view(-1).sigmoid() if self.spec.num_outputs == 1 else out.softmax(-1)
        return probabilities, y

    def compute(self, out: torch.Tensor, y: torch.Tensor, split: str,
                prefix: str = "") -> dict[str, torch.Tensor]:
        """``{split}/{prefix}{name}`` -> value (a 0-d tensor) for each metric due on ``split``."""
        found: dict[str, torch.Tensor] = {}
        inputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        counted: dict[int | None, dict[str, torch.Tensor]] = {}  # one count per class layout
        out = out.float()
        for metric in self.metrics:
            key = f"{split}/{prefix}{metric.name}"
            if metric.reads == "probabilities" and split != "test" and key not in self.watched:
                continue
            if metric.reads not in inputs:
                inputs[metric.reads] = self._inputs(out, y, metric.reads)
            counts = None
            if isinstance(metric.fn, Counted):
                if metric.fn.num_classes not in counted:
                    counted[metric.fn.num_classes] = metric.fn.counts(*inputs[metric.reads])
                counts = counted[metric.fn.num_classes]
            found[key] = metric(*inputs[metric.reads], counts)
        return found

    def baselines(self, splits: Splits) -> dict[str, float]:
        """``test/baseline_<name>`` (and a forecast's ``test/baseline_last_<name>``): each metric
        of the trivial predictors of `nnx.data.baselines` on the test split."""
        y = splits.test[1]
        found: dict[str, float] = {}
        for prefix, out in trivial_outputs(splits).items():
            found.update(self.values(out.to(y.device), y, "test", prefix))
        return found

    def values(self, out: torch.Tensor, y: torch.Tensor, split: str, prefix: str = "") -> dict[str, float]:
        """`compute` as floats, read from the device in one sync."""
        found = self.compute(out, y, split, prefix)
        return dict(zip(found, torch.stack(list(found.values())).tolist(), strict=True)) if found else {}


class Meter:
    """One split's epoch: each step appends its loss, sample count and detached outputs."""

    def __init__(self) -> None:
        self.rows: list[tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]] = []

    def update(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        self.rows.append((loss.detach(), len(y), out.detach(), y))

    def compute(self, split: str, scores: Scores, reduce: Callable,
                gather: Callable | None) -> dict[str, float]:
        """The epoch's mean loss and metrics as ``split/name``; the rows are cleared.

        ``reduce`` sums a tensor over ranks; ``gather`` (None on one device) joins a tensor
        from every rank, so that each metric sees the whole split.
        """
        if not self.rows:
            return {}
        losses, counts, outs, ys = zip(*self.rows, strict=True)
        self.rows = []
        losses = torch.stack(losses).float()
        counts = losses.new_tensor(counts)
        out, y = torch.cat(outs), torch.cat(ys)
        if gather is not None:
            out, y = gather(out), gather(y)
        totals = reduce(torch.stack([(losses * counts).sum(), counts.sum()]))
        found = scores.compute(out, y, split)
        values = torch.stack([totals[0] / totals[1], *found.values()]).tolist()
        return dict(zip([f"{split}/loss", *found], values, strict=True))
