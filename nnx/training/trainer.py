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


def build_trainer(recipe: Recipe, callbacks: list, output_dir: Path, epochs: int) -> Any:
    """Lightning's Trainer with nnx's checkpoint and early-stopping callbacks added."""
    import pytorch_lightning as pl
    from lightning_fabric.utilities.exceptions import MisconfigurationException
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from nnx.training.checkpoints import LastCheckpoint

    cfg = recipe.trainer
    if cfg.early_stopping.enabled:
        es = cfg.early_stopping
        callbacks.append(EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience))
    ck, folder = cfg.checkpoint, output_dir / "checkpoints"
    if ck.save_last:
        callbacks.append(LastCheckpoint(folder, ck.save_last_every_s))
    if ck.enabled:
        callbacks.append(ModelCheckpoint(dirpath=folder, monitor=ck.monitor, mode=ck.mode))
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
            enable_checkpointing=ck.enabled,
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
    """Train, val and test batches for this process (its own stride of them under DDP)."""
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
    rank = trainer.global_rank
    size = recipe.data.config.batch_size
    train = IndexBatches(
        *splits.train, size, shuffle=True, fused=fused, seed=recipe.run.seed, rank=rank,
        world_size=world,
    )
    eval_size = max(size, 1024)
    val, test = (
        IndexBatches(*split, eval_size, shuffle=False, rank=rank, world_size=world)
        for split in (splits.val, splits.test)
    )
    return train, val, test
