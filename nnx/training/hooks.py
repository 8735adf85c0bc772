"""Which of Lightning's per-batch hooks a run's callbacks use: whether the fused fast path may run.

The fast path (`nnx.training.task`) runs a whole epoch of optimizer steps in one Lightning
step and steps the raw torch optimizer, so Lightning calls ``on_train_batch_start/end`` once
per epoch and never ``on_before_optimizer_step``. A callback that overrides one of those
hooks (relative to ``pl.Callback``) gets Lightning's documented contract instead: one batch
per Lightning step, optimizer steps through Lightning's optimizer wrapper. A callback that
overrides such a hook but is right when called once per epoch says so with a ``fused_safe``
attribute that is true (nnx's own interrupt handling does). Lightning's `ModelCheckpoint`
and `Timer` act per batch only when asked to (``every_n_train_steps``,
``train_time_interval``, ``interval="step"``), so otherwise they keep the fast path too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["TRAIN_HOOKS", "EVAL_HOOKS", "per_batch_hooks"]

#: Hooks Lightning calls once per training batch or optimizer step.
TRAIN_HOOKS = (
    "on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad",
)
#: Hooks Lightning calls once per validation or test batch.
EVAL_HOOKS = (
    "on_validation_batch_start", "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
)


def per_batch_hooks(callbacks: Iterable[Any], hooks: tuple[str, ...] = TRAIN_HOOKS) -> set[str]:
    """The ``hooks`` that some callback overrides and needs called per batch (or per step)."""
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.model_helpers import is_overridden

    return {
        hook for callback in callbacks if not _fused_safe(callback)
        for hook in hooks if is_overridden(hook, callback, parent=pl.Callback)
    }


def _fused_safe(callback: Any) -> bool:
    from pytorch_lightning.callbacks import ModelCheckpoint, Timer

    if hasattr(callback, "fused_safe"):
        return bool(callback.fused_safe)
    if isinstance(callback, ModelCheckpoint):
        return not callback._every_n_train_steps and callback._train_time_interval is None
    if isinstance(callback, Timer):
        return callback._interval == "epoch"
    return False
