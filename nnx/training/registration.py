"""``tracking.register=NAME``: a run's model in MLflow's model registry, and an alias that
moves only to a better model.

The model registered is the pyfunc a run logs with ``tracking.log_model=true`` (its
preprocessing included: raw rows in; `nnx.training.serving`); a k-fold or multi-seed run's
is the ensemble of its models. Each registration is a new version of ``NAME``; the alias
(``tracking.alias``, ``champion`` by default) moves to it only when no version holds the
alias yet, or when it beats the holder on the same metric in that metric's direction
(`nnx.config.metrics.direction`). ``models:/NAME@champion`` then names the best model so far,
for `nnx-predict`, `nnx.load` and ``mlflow models serve``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
from pathlib import Path

from nnx.config.environment import scoped_env
from nnx.config.metrics import direction

__all__ = ["Registration", "register", "RESULT_TAG"]

#: The tag a registering run (a sweep: its parent) gets: what was registered and what the alias did.
RESULT_TAG = "nnx.registry"
MODEL_DIR = "model"
_NO_PROGRESS_BARS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclasses.dataclass(frozen=True)
class Registration:
    """What `register` did: the new version, and whether the alias moved to it."""

    name: str
    version: str
    alias: str
    metric: str
    value: float | None
    holder: str | None  # the version that held the alias before
    holder_value: float | None
    moved: bool

    @property
    def line(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:.4g}"
        head = f"registered {self.name} version {self.version} ({self.metric} {value})"
        if self.holder is None:
            return f"{head}: @{self.alias} -> version {self.version} (the first)"
        old = "n/a" if self.holder_value is None else f"{self.holder_value:.4g}"
        better = "higher" if direction(self.metric) == "max" else "lower"
        if self.moved:
            return f"{head}: @{self.alias} -> version {self.version} ({better} than {old} of v{self.holder})"
        return f"{head}: @{self.alias} stays at version {self.holder} ({old}, as good or {better})"


def _beats(value: float | None, holder: float | None, metric: str) -> bool:
    if value is None or not math.isfinite(value):
        return False
    if holder is None or not math.isfinite(holder):
        return True
    return value > holder if direction(metric) == "max" else value < holder


def _predictor_dirs(run_dir: Path) -> list[Path]:
    """The run's saved predictor, or each fold's and seed's (an ensemble)."""
    from nnx.models.predictor import PREDICTOR_DIR

    own = run_dir / PREDICTOR_DIR
    if (own / "predictor.json").is_file():
        return [own]
    return sorted(p.parent for p in run_dir.glob(f"**/{PREDICTOR_DIR}/predictor.json"))


def _log_model(client: object, run_id: str, run_dir: Path) -> None:
    """Log the run's pyfunc (``model/``) unless the run logged it already."""
    import mlflow.pyfunc

    from nnx import __version__
    from nnx.models.predictor import PREDICTOR_DIR

    if any(a.path == MODEL_DIR for a in client.list_artifacts(run_id)):
        return
    folders = _predictor_dirs(run_dir)
    if not folders:
        from nnx.errors import NnxError

        raise NnxError(f"Cannot register run {run_id}: its run dir {run_dir} holds no saved model.")
    artifacts = {PREDICTOR_DIR if len(folders) == 1 else f"{PREDICTOR_DIR}-{i}": str(folder)
                 for i, folder in enumerate(folders, 1)}
    code = Path(__file__).with_name("pyfunc_code.py")
    # No input example here (the run logged none): MLflow's warning that it cannot infer a
    # signature, and its progress bars, stay out of nnx's output.
    quiet = logging.getLogger("mlflow.pyfunc")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp, scoped_env(_NO_PROGRESS_BARS):
            mlflow.pyfunc.save_model(f"{tmp}/{MODEL_DIR}", python_model=str(code), artifacts=artifacts,
                                     pip_requirements=[f"nnx=={__version__}"])
            client.log_artifacts(run_id, f"{tmp}/{MODEL_DIR}", MODEL_DIR)
    finally:
        quiet.setLevel(level)


def register(uri: str, run_id: str, run_dir: Path | None, name: str, alias: str, metric: str,
             record_on: str | None = None) -> Registration:
    """Log ``run_id``'s model if needed (from ``run_dir``; None: the run dir the run recorded),
    register it as a new version of ``name`` and move ``alias`` to it if it beats the
    current holder on ``metric``; tag ``record_on`` (a sweep's parent; the run itself by
    default) with the result."""
    from mlflow.exceptions import MlflowException

    from nnx.tracking.store import Store
    from nnx.training.resume import OUTPUT_DIR_TAG

    with Store.of(uri).session() as client:
        run = client.get_run(run_id)
        _log_model(client, run_id, Path(run_dir or run.data.tags.get(OUTPUT_DIR_TAG, "")))
        try:
            client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(name, f"{run.info.artifact_uri}/{MODEL_DIR}", run_id=run_id)
        try:
            holder = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            holder = None
        value = run.data.metrics.get(metric)
        holder_value = client.get_run(holder.run_id).data.metrics.get(metric) if holder else None
        moved = holder is None or _beats(value, holder_value, metric)
        if moved:
            client.set_registered_model_alias(name, alias, version.version)
        done = Registration(name, str(version.version), alias, metric, value,
                            str(holder.version) if holder else None, holder_value, moved)
        client.set_tag(record_on or run_id, RESULT_TAG, done.line)
    return done
