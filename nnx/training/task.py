"""The Lightning task: loss, metrics and optimisation around any model plugin.

Training uses manual optimisation over chunks of in-memory batches: one Lightning step
runs ``fused`` optimizer steps, so Lightning's per-step hooks are paid once per chunk
instead of once per batch. Under DDP a chunk is a single batch (one backward per forward).
A run whose callbacks need Lightning's per-batch hooks (`nnx.training.hooks`) gets plain
``(x, y)`` batches, one per Lightning step, stepped through Lightning's optimizer wrapper.
Each split's loss and metrics are computed once per epoch from its stored outputs
(`nnx.training.measure`) and logged as ``split/name``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch

from nnx.data.batches import Chunk
from nnx.data.spec import DataSpec
from nnx.errors import TrainingError
from nnx.models.phases import parameter_groups
from nnx.training.losses import LossFn, make_loss
from nnx.training.measure import Meter, Scores, build_scores

__all__ = ["Task", "publish"]


def _batches(batch: Chunk | tuple) -> Chunk | tuple:
    """The ``(x, y)`` batches of one Lightning step: a fused chunk, or one plain batch."""
    return batch if isinstance(batch, Chunk) else (batch,)


def publish(trainer: pl.Trainer, metrics: dict[str, float]) -> None:
    """Make ``metrics`` (already reduced over ranks) this epoch's values in
    ``trainer.callback_metrics``, where early stopping, checkpoints, schedulers, pruning and
    `nnx.training.callbacks.EpochReport` read them, as 0-d tensors as Lightning's ``log``
    leaves them. Lightning's ``log`` would keep a result object per key and move each one
    between devices at every epoch's end: with the default metrics (11 keys) that was a third
    of a small model's fit (digits MLP: 0.60 -> 0.85 s CPU)."""
    trainer.callback_metrics.update({key: torch.tensor(value, dtype=torch.float32)
                                     for key, value in metrics.items()})


class Task(pl.LightningModule):
    """Trains ``model`` with a loss and the optimizer/scheduler factories; measures ``scores``.

    ``loss_fn`` defaults to the loss plugin ``loss_name`` with its defaults, ``scores`` to
    the task's default metrics (``metrics=auto``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        spec: DataSpec,
        loss_name: str,
        make_optimizer: Callable[[Any], torch.optim.Optimizer],
        make_scheduler: Callable[[torch.optim.Optimizer], dict] | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        loss_fn: LossFn | None = None,
        scores: Scores | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.spec = spec
        self.loss_name, self.loss_fn = (loss_name, loss_fn) if loss_fn else make_loss(spec, loss_name)
        self.scores = scores or build_scores((), True, spec)
        self._make_optimizer = make_optimizer
        self._make_scheduler = make_scheduler
        self._clip = (gradient_clip_val, gradient_clip_algorithm)
        self._meters = {"train": Meter(), "val": Meter(), "test": Meter()}
        self._direct = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _measure(self, split: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        loss = self.loss_fn(out, y)
        self._meters[split].update(loss, out, y)
        return loss

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
        metrics = self._meters[split].compute(split, self.scores, reduce, self._gather())
        if split == "train":
            metrics["train/lr"] = self.optimizers().param_groups[0]["lr"]
        publish(self.trainer, metrics)

    def _gather(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """Joins a tensor from every rank (they may hold different numbers of samples)."""
        if self.trainer.world_size == 1:
            return None
        from torchmetrics.utilities.distributed import gather_all_tensors

        return lambda t: torch.cat(gather_all_tensors(t))

    def configure_optimizers(self) -> Any:
        # Frozen parameters (an earlier training phase's) stay out of the optimizer.
        optimizer = self._make_optimizer(parameter_groups(self.model))
        if self._make_scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self._make_scheduler(optimizer)}
