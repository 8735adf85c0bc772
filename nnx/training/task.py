"""The Lightning task: loss, metrics and optimisation around any model plugin.

Training uses manual optimisation over chunks of in-memory batches: one Lightning step
runs ``fused`` optimizer steps, so Lightning's per-step hooks are paid once per chunk
instead of once per batch. Under DDP a chunk is a single batch (one backward per forward).
A run whose callbacks need Lightning's per-batch hooks (`nnx.training.hooks`) gets plain
``(x, y)`` batches, one per Lightning step, stepped through Lightning's optimizer wrapper.
Metrics are summed on the device and logged once per epoch as ``split/name``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch

from nnx.data.batches import Chunk
from nnx.data.spec import DataSpec
from nnx.errors import TrainingError
from nnx.models.outputs import predict
from nnx.training.losses import make_loss

__all__ = ["Task"]


class _Meter:
    """Running sums for one split: loss, samples, then the task's scores.

    Classification scores are the correct predictions; regression scores are the sums of
    absolute and squared errors and the number of predicted values (for MAE and RMSE).
    A step only appends its tensors; they are summed once, when the epoch's metrics are
    computed, so that small models do not pay for bookkeeping at every step.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def update(self, loss: torch.Tensor, scores: torch.Tensor, count: int) -> None:
        self.rows.append((loss.detach(), scores, count))

    def compute(self, prefix: str, classification: bool, reduce: Callable) -> dict[str, float]:
        if not self.rows:
            return {}
        losses = torch.stack([row[0] for row in self.rows]).float()
        counts = losses.new_tensor([row[2] for row in self.rows])
        scores = torch.stack([row[1] for row in self.rows]).float().sum(0)
        self.rows = []
        sums = torch.cat([torch.stack([(losses * counts).sum(), counts.sum()]), scores])
        loss_sum, count, *scores_sum = reduce(sums).tolist()
        metrics = {f"{prefix}/loss": loss_sum / count}
        if classification:
            metrics[f"{prefix}/acc"] = scores_sum[0] / count
        else:
            abs_sum, squared_sum, values = scores_sum
            metrics[f"{prefix}/mae"] = abs_sum / values
            metrics[f"{prefix}/rmse"] = math.sqrt(squared_sum / values)
        return metrics


def _batches(batch: Chunk | tuple) -> Chunk | tuple:
    """The ``(x, y)`` batches of one Lightning step: a fused chunk, or one plain batch."""
    return batch if isinstance(batch, Chunk) else (batch,)


class Task(pl.LightningModule):
    """Trains ``model`` with ``loss_name`` and the optimizer/scheduler factories."""

    def __init__(
        self,
        model: torch.nn.Module,
        spec: DataSpec,
        loss_name: str,
        make_optimizer: Callable[[Any], torch.optim.Optimizer],
        make_scheduler: Callable[[torch.optim.Optimizer], dict] | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.spec = spec
        self.loss_name = loss_name
        self.loss_fn = make_loss(loss_name, spec)
        self._make_optimizer = make_optimizer
        self._make_scheduler = make_scheduler
        self._clip = (gradient_clip_val, gradient_clip_algorithm)
        self._meters = {"train": _Meter(), "val": _Meter(), "test": _Meter()}
        self._direct = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _measure(self, split: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        loss = self.loss_fn(out, y)
        self._meters[split].update(loss, self._scores(out.detach(), y), len(y))
        return loss

    def _scores(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.spec.task == "classification":
            return (predict(out, self.spec) == y).sum().reshape(1)
        error = out - y.to(out.dtype).view_as(out)
        return torch.stack([error.abs().sum(), error.square().sum(), error.new_tensor(error.numel())])

    def on_train_start(self) -> None:
        # Plain fp32 on one device with no clipping: Lightning's optimizer and backward
        # wrappers would only add hooks (about 0.4 ms a step, more than a small model's step),
        # so the steps go straight to torch and the step counter is advanced here.
        # A callback with per-step hooks needs the wrapper (which calls them).
        from nnx.training.hooks import per_batch_hooks

        trainer = self.trainer
        self._direct = (
            trainer.precision == "32-true" and trainer.world_size == 1 and self._clip[0] is None
            and not per_batch_hooks(trainer.callbacks)
        )

    def training_step(self, chunk: Chunk | tuple, index: int) -> None:
        optimizer = self.optimizers()
        clip_val, clip_algorithm = self._clip
        raw = optimizer.optimizer
        losses = []
        for x, y in _batches(chunk):
            loss = self._measure("train", x, y)
            if self._direct:
                raw.zero_grad(set_to_none=True)
                loss.backward()
                raw.step()
            else:
                optimizer.zero_grad(set_to_none=True)
                self.manual_backward(loss)
                if clip_val is not None:
                    self.clip_gradients(optimizer, clip_val, clip_algorithm)
                optimizer.step()
            losses.append(loss.detach())
        if self._direct:
            self._count_steps(len(losses))
        self._check_finite(torch.stack(losses))  # one device sync per chunk, not per step
        if index == self.trainer.num_training_batches - 1:
            self._log_split("train")

    def _count_steps(self, steps: int) -> None:
        """Advance ``global_step`` as Lightning's optimizer wrapper would have, once per step."""
        progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        for counter in (progress.total, progress.current):
            counter.ready += steps
            counter.completed += steps

    def _check_finite(self, losses: torch.Tensor) -> None:
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            first = int(bad[0])
            step = self.global_step - len(losses) + first
            raise TrainingError(
                f"The training loss became {losses[first].item()} at epoch {self.current_epoch}, "
                f"step {step}. Lower the learning rate (optimizer.lr) or clip gradients "
                "(trainer.gradient_clip_val=1.0)."
            )

    def validation_step(self, chunk: Chunk | tuple, index: int) -> None:
        for x, y in _batches(chunk):
            self._measure("val", x, y)

    def test_step(self, chunk: Chunk | tuple, index: int) -> None:
        for x, y in _batches(chunk):
            self._measure("test", x, y)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def on_test_epoch_end(self) -> None:
        self._log_split("test")

    def on_train_epoch_end(self) -> None:
        scheduler = self.lr_schedulers()
        if scheduler is None:
            return
        config = self.trainer.lr_scheduler_configs[0]
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            value = self.trainer.callback_metrics.get(config.monitor)
            if value is not None:
                scheduler.step(value)
        else:
            scheduler.step()

    def _log_split(self, split: str) -> None:
        reduce = lambda t: self.trainer.strategy.reduce(t, reduce_op="sum")  # noqa: E731
        metrics = self._meters[split].compute(split, self.spec.task == "classification", reduce)
        if split == "train":
            metrics["train/lr"] = self.optimizers().param_groups[0]["lr"]
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=1)

    def configure_optimizers(self) -> Any:
        # Frozen parameters (an earlier training phase's) stay out of the optimizer.
        optimizer = self._make_optimizer([p for p in self.model.parameters() if p.requires_grad])
        if self._make_scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self._make_scheduler(optimizer)}
