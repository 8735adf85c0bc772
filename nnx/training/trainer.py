"""Lightning's Trainer and the in-memory batches it is fed, built from the recipe.

A setting Lightning rejects (no GPU, a bad device list) becomes one config error here,
before any step runs.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from nnx.config.recipe import Recipe
from nnx.data.batches import IndexBatches
from nnx.data.spec import Splits
from nnx.data.streaming import StreamBatches, is_stream
from nnx.errors import ConfigValueError

__all__ = ["quiet_lightning", "build_trainer", "index_batches"]


def quiet_lightning() -> None:
    """Silence Lightning's tips and device banners; real warnings still show."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from lightning_fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings("ignore", category=PossibleUserWarning)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # A resumed run's checkpoint folder holds its earlier checkpoints by design.
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


def _plugin_callbacks(recipe: Recipe, ctx: Any) -> list:
    """The selected callback plugins (``callbacks=[...]``), built for one training phase."""
    import pytorch_lightning as pl

    from nnx.errors import PluginError

    built = []
    for component in recipe.callbacks:
        callback = component.build(ctx)
        if not isinstance(callback, pl.Callback):
            raise PluginError(f"The callbacks plugin '{component.plugin.name}' ({component.plugin.source}) "
                              f"returned {type(callback).__name__}, not a Lightning Callback.")
        built.append(callback)
    return built


def build_trainer(recipe: Recipe, callbacks: list, output_dir: Path, epochs: int, prefix: str = "") -> Any:
    """Lightning's Trainer for one training phase (``prefix``): ``callbacks``, the selected
    callback plugins, a best checkpoint for early stopping (``eval.weights=best``) and
    nnx's ``last.ckpt`` (``trainer.save_last``)."""
    import pytorch_lightning as pl
    from lightning_fabric.utilities.exceptions import MisconfigurationException
    from pytorch_lightning.callbacks import Checkpoint

    from nnx.training.callback_plugins import CallbackContext
    from nnx.training.checkpoints import LastCheckpoint, keep_best_for_early_stopping

    cfg = recipe.trainer
    ctx = CallbackContext(output_dir, output_dir / "checkpoints", epochs, prefix)
    callbacks = [*callbacks, *_plugin_callbacks(recipe, ctx)]
    if recipe.run.eval.weights == "best":
        keep_best_for_early_stopping(callbacks, ctx)
    if cfg.save_last:
        callbacks.append(LastCheckpoint(output_dir / "checkpoints", cfg.save_last_every_s))
    try:
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator=cfg.accelerator,
            devices=cfg.devices,
            strategy=cfg.strategy,
            num_nodes=cfg.num_nodes,
            precision=cfg.precision,
            deterministic=recipe.run.deterministic,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=any(isinstance(cb, Checkpoint) for cb in callbacks),
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=str(output_dir),
        )
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0]
        chosen = f"accelerator={cfg.accelerator} devices={cfg.devices} strategy={cfg.strategy}"
        raise ConfigValueError("trainer", chosen, f"what this machine supports ({first})") from error
    # Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that finding devices does not
    # initialise CUDA. Left on, every optimizer step asks NVML whether CUDA exists (through
    # torch.cuda.is_available in the optimizer's graph-capture check): ~0.1 ms a step, as long
    # as a small model's whole step. The devices are found by now.
    os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
    return trainer


def index_batches(recipe: Recipe, splits: Splits, trainer: Any) -> tuple[Any, Any, Any]:
    """Train, val and test batches for this process (its own stride of them under DDP).

    Fused into chunks (one Lightning step each) unless a callback needs Lightning's per-batch
    hooks (`nnx.training.hooks`): then each Lightning step is one ``(x, y)`` batch.
    """
    from nnx.training.hooks import EVAL_HOOKS, per_batch_hooks

    if is_stream(splits.train[0]):  # images streamed from files: DataLoader workers decode them
        return tuple(
            StreamBatches(x, size, trainer.strategy.root_device, shuffle=shuffle,
                          seed=recipe.run.seed, rank=trainer.global_rank, world_size=trainer.world_size)
            for (x, _), size, shuffle in ((splits.train, recipe.data.config.batch_size, True),
                                          (splits.val, 1024, False), (splits.test, 1024, False)))
    fused = recipe.trainer.fused_steps
    world = trainer.world_size
    if world > 1:
        fused = 1  # DDP allows one backward per forward
    plain_train = bool(per_batch_hooks(trainer.callbacks))
    plain_eval = bool(per_batch_hooks(trainer.callbacks, EVAL_HOOKS))
    rank = trainer.global_rank
    size = recipe.data.config.batch_size
    train = IndexBatches(
        *splits.train, size, shuffle=True, fused=1 if plain_train else fused, seed=recipe.run.seed,
        rank=rank, world_size=world, plain=plain_train,
    )
    eval_size = max(size, 1024)
    val, test = (
        IndexBatches(*split, eval_size, shuffle=False, fused=1 if plain_eval else None, rank=rank,
                     world_size=world, plain=plain_eval)
        for split in (splits.val, splits.test)
    )
    return train, val, test
