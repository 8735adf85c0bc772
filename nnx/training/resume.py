"""`nnx resume=<run id or run dir>`: continue a stopped run from its last checkpoint.

Each run writes ``<run dir>/nnx_run.yaml`` (its MLflow run id and resolved config) and
``<run dir>/checkpoints/last.ckpt`` (see `nnx.training.checkpoints`). Resuming rebuilds the run from
that config, loads the checkpoint with ``weights_only=True`` (no pickled code runs) and
logs into the same MLflow run, whose metric steps (epochs) continue where they stopped.
The record holds no password (`nnx.config.secrets`): a run logged to a store whose URI
carries one is resumed with ``tracking.uri=`` given again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnx.config.secrets import MASK, has_credentials
from nnx.errors import CheckpointError, ConfigValueError, NnxError, first_line

__all__ = ["RECORD", "OUTPUT_DIR_TAG", "Resume", "checkpoint_path", "write_record", "load", "overrides"]

RECORD = "nnx_run.yaml"
OUTPUT_DIR_TAG = "nnx.output_dir"
#: Groups that pick what is trained; resuming cannot change them.
_FIXED_GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "tracking", "callbacks",
                 "experiment", "hparams_search", "debug")


@dataclass(frozen=True)
class Resume:
    """What a resumed run continues: its dir, MLflow run id and checkpoint."""

    run_dir: Path
    run_id: str | None
    checkpoint: Path


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / "last.ckpt"


def write_record(run_dir: Path, run_id: str | None, config: dict) -> None:
    """Write what `load` needs to continue this run later."""
    record = {"run_id": run_id, "config": config}
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / RECORD).write_text(OmegaConf.to_yaml(OmegaConf.create(record)))


def _run_dir(target: str, tracking: Any) -> Path:
    if Path(target).is_dir():
        return Path(target).resolve()
    if tracking is None or tracking.get("backend") != "mlflow":
        raise ConfigValueError("resume", target, "an existing run dir (no tracking to find ids in)")
    from mlflow.exceptions import MlflowException

    from nnx.tracking.store import Store

    store = Store.of(str(tracking.uri))
    try:
        with store.session() as client:
            run = client.get_run(target)
    except MlflowException as error:
        raise ConfigValueError(
            "resume", target, f"a run dir or the id of a run in tracking.uri={store.shown}"
        ) from error
    folder = run.data.tags.get(OUTPUT_DIR_TAG)
    if not folder or not Path(folder).is_dir():
        raise NnxError(f"Run {target} has no run dir on this machine ({folder}); use resume=<dir>")
    return Path(folder)


def overrides(option: str = "resume") -> list[str]:
    """Command-line ``key=value`` overrides of this invocation, without ``<option>=``.

    A group choice (``model=cnn``) cannot apply to a saved config: it names a YAML file,
    not values; dotted keys (``model.hidden=[64]``) can.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    chosen = [o for o in HydraConfig.get().overrides.task if not o.startswith(f"{option}=")]
    for override in chosen:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in _FIXED_GROUPS or key.startswith("hydra"):
            raise ConfigValueError(
                option, override, "only key=value overrides such as trainer.max_epochs=40 "
                f"(a {'re-run' if option == 'rerun' else 'resumed'} run keeps its model, data and "
                "optimizer choices; change their "
                "keys, e.g. model.hidden=[64])",
            )
    return chosen


def load(cfg: DictConfig) -> tuple[DictConfig, Resume]:
    """The config of the run that ``cfg.resume`` names, with this call's overrides applied."""
    run_dir = _run_dir(str(cfg.resume), cfg.get("tracking"))
    record_file = run_dir / RECORD
    if not record_file.is_file():
        raise ConfigValueError("resume", str(run_dir), f"a run dir that holds {RECORD}")
    record = OmegaConf.load(record_file)
    checkpoint = checkpoint_path(run_dir)
    if not checkpoint.is_file():
        raise NnxError(
            f"Run dir {run_dir} has no checkpoints/last.ckpt: it stopped before its first epoch "
            "ended, or ran with trainer.save_last=false."
        )
    # `+callbacks.early_stopping.patience=20`: a key the default config does not compose
    saved = OmegaConf.merge(record.config, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides()]))
    saved.output_dir = str(run_dir)
    saved.resume = str(run_dir)
    uri = str(OmegaConf.select(saved, "tracking.uri") or "")
    if MASK in uri and has_credentials(uri):
        raise ConfigValueError(
            "tracking.uri", uri, "the store's URI with its password, which nnx does not record: "
            f"nnx resume={cfg.resume} tracking.uri=<the URI you logged to>",
        )
    _check_loadable(checkpoint)  # after the user's own mistakes: those are cheaper to hear first
    return saved, Resume(run_dir, record.run_id, checkpoint)


def _check_loadable(checkpoint: Path) -> None:
    """Read the checkpoint the way the fit will (weights only), before any data or model is
    built: a file holding code, or a damaged one, is refused now with one line."""
    import pickle

    from lightning_fabric.utilities.cloud_io import _load as load_checkpoint

    try:
        load_checkpoint(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        what = f"a reference to {found.group(1)}" if found else "an object"
        raise CheckpointError(
            f"Refused to load checkpoint {checkpoint}: it holds {what}, not only tensors and "
            "plain values, and unpickling it could run code. Resume only from checkpoints nnx wrote."
        ) from error
    except (EOFError, RuntimeError, OSError, ValueError) as error:
        raise CheckpointError(
            f"Cannot read checkpoint {checkpoint} ({first_line(error)}): it is damaged or was not written by "
            "nnx. Start afresh without resume=, or resume from another run."
        ) from error
