"""`nnx rerun=<run id or run dir> [key=value ...]`: train a logged run again from its config.

The config comes from the run's ``config.yaml`` artifact (or its dir's ``nnx_run.yaml``),
with this call's ``key=value`` overrides on top. The new run is tagged with the old run's id
(``nnx.rerun_of``); when it ends, its metrics are compared with the old run's: with
``deterministic=true``, the same data and the same machine they must match. A different git
commit or different package versions (tag ``nnx.versions``) are warned about first, as they
can explain a difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnx.config.identity import VERSIONS_TAG, package_versions
from nnx.config.secrets import redact_uri
from nnx.errors import ConfigValueError
from nnx.training.resume import RECORD, overrides

__all__ = ["RERUN_TAG", "Rerun", "load", "compare"]

RERUN_TAG = "nnx.rerun_of"
_GIT_TAG = "mlflow.source.git.commit"
_TOLERANCE = 1e-6  # relative: what float32 training can round differently when printed and stored


@dataclass(frozen=True)
class Rerun:
    """The run being re-run: its id (or dir), final metrics and what it was run with."""

    source: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _store(tracking: Any) -> Any:
    """The store to look the run up in (None: no tracking, or nothing logged there yet)."""
    from nnx.tracking.store import Store

    if tracking is None or tracking.get("backend") != "mlflow":
        return None
    store = Store.of(str(tracking.uri))
    return store if store.exists() else None


def _from_store(target: str, tracking: Any) -> tuple[DictConfig, Rerun]:
    import tempfile

    from mlflow.exceptions import MlflowException

    store = _store(tracking)
    where = redact_uri(str(tracking.get("uri"))) if tracking else None
    if store is None:
        raise ConfigValueError("rerun", target, f"a run dir, or the id of a run in tracking.uri={where}")
    try:
        with store.session() as client, tempfile.TemporaryDirectory() as tmp:
            run = client.get_run(target)
            config = OmegaConf.load(client.download_artifacts(target, "config.yaml", tmp))
    except (MlflowException, OSError) as error:
        raise ConfigValueError("rerun", target, "a run dir, or the id of a run (with its "
                               f"config.yaml) in tracking.uri={where}") from error
    return config, Rerun(target, dict(run.data.metrics), dict(run.data.tags))


def _from_dir(folder: Path, tracking: Any) -> tuple[DictConfig, Rerun]:
    record_file = folder / RECORD
    if not record_file.is_file():
        raise ConfigValueError("rerun", str(folder), f"a run dir that holds {RECORD}, or a run id")
    record = OmegaConf.load(record_file)
    if record.get("run_id"):
        store = _store(tracking)
        if store is not None:
            from mlflow.exceptions import MlflowException

            try:
                with store.session() as client:
                    run = client.get_run(record.run_id)
                return record.config, Rerun(record.run_id, dict(run.data.metrics), dict(run.data.tags))
            except MlflowException:
                pass
    return record.config, Rerun(str(folder))


def load(cfg: DictConfig) -> tuple[DictConfig, Rerun]:
    """The config of the run that ``cfg.rerun`` names, with this call's overrides applied."""
    target = str(cfg.rerun)
    tracking = cfg.get("tracking")
    if Path(target).is_dir():
        saved, rerun = _from_dir(Path(target).resolve(), tracking)
    else:
        saved, rerun = _from_store(target, tracking)
    config = OmegaConf.merge(saved, OmegaConf.from_dotlist(overrides("rerun")))
    # Where the new run is recorded is this call's choice, like its output folder: the logged
    # config holds the store's URI with its password masked, and the rerun may go elsewhere.
    config.tracking = cfg.tracking
    config.output_dir = cfg.output_dir
    config.resume = None
    config.rerun = None
    return config, rerun


def _differs(old: float, new: float) -> bool:
    if math.isnan(old) or math.isnan(new):
        return math.isnan(old) != math.isnan(new)
    return abs(old - new) > _TOLERANCE * max(1.0, abs(old))


def compare(rerun: Rerun, metrics: dict[str, float], commit: str | None) -> list[str]:
    """Lines saying whether ``metrics`` match the old run's, after any warnings."""
    lines = []
    old_commit = rerun.tags.get(_GIT_TAG)
    if old_commit and commit and old_commit != commit:
        lines.append(f"warning: run {rerun.source} was trained at git commit {old_commit[:10]}, "
                     f"this one at {commit[:10]}")
    old_versions = dict(p.split("=", 1) for p in rerun.tags.get(VERSIONS_TAG, "").split() if "=" in p)
    new_versions = dict(p.split("=", 1) for p in package_versions().split())
    changed = [f"{k} {v} -> {new_versions[k]}" for k, v in old_versions.items()
               if k in new_versions and new_versions[k] != v]
    if changed:
        lines.append("warning: package versions differ: " + ", ".join(changed))
    shared = sorted(k for k in set(rerun.metrics) & set(metrics) if k.startswith(("train/", "val/", "test/")))
    if not shared:
        return [*lines, f"no metrics of run {rerun.source} to compare with (it was not tracked)"]
    different = [k for k in shared if _differs(rerun.metrics[k], metrics[k])]
    if not different:
        return [*lines, f"all {len(shared)} metrics match run {rerun.source}"]
    shown = ", ".join(f"{k} {rerun.metrics[k]:.6g} -> {metrics[k]:.6g}" for k in different[:6])
    more = f" (+{len(different) - 6} more)" if len(different) > 6 else ""
    return [*lines, f"{len(different)} of {len(shared)} metrics differ from run {rerun.source}: "
                    f"{shown}{more}"]
