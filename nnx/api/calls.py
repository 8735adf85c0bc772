"""`nnx.run`, `nnx.sweep`, `nnx.search`: the `nnx` command as Python calls, for notebooks and
scripts.

The overrides are the command line's (``"model=cnn"``, ``"optimizer.lr=0.001,0.01"``), composed
and run by Hydra in this process (`nnx.api.session`); what the command prints is printed too.
A second call in the same process imports nothing new and reuses the tracking writer.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from nnx.api.results import Run, Sweep, history_frame
from nnx.api.session import launch
from nnx.errors import NnxError

__all__ = ["run", "sweep", "search"]


def _run_of(metrics: dict[str, float], objects: dict[str, Any]) -> Run:
    recipe = objects["recipe"]
    return Run(metrics=dict(metrics), run_id=objects["tracker"].run_id,
               run_dir=Path(recipe.run.output_dir).resolve(), history=history_frame(objects),
               config=recipe.config, tracking_uri=recipe.tracking.uri)


def _train(cfg: DictConfig, tags: dict[str, str] | None = None, callbacks: Any = ()) -> Run:
    """One job, its results printed as `nnx` prints them."""
    from nnx.training import pipeline

    metrics, objects = pipeline.run(cfg, callbacks=callbacks, tags=tags)
    if objects["trainer"].global_rank == 0:
        print(pipeline.results(metrics, objects), flush=True)
    return _run_of(metrics, objects)


def run(*overrides: str) -> Run:
    """Train and test one model, as ``nnx OVERRIDES...`` does; return the finished `Run`.

    Example: ``nnx.run("model=cnn", "data=mnist1d", "trainer.max_epochs=5")``. A bad override
    or a failed run raises an `nnx.errors.NnxError` whose message is the command's one line.
    """
    finished: list[Run] = []

    def task(cfg: DictConfig) -> None:
        finished.append(_train(cfg))

    launch(overrides, task, multirun=False)
    return finished[0]


def _metrics_in_store(run_id: str, uri: str) -> dict[str, float]:
    """A trial's metrics from its MLflow run (a trial that ran in another process)."""
    from nnx.tracking.store import Store

    with Store.of(uri).session() as client:
        return dict(client.get_run(run_id).data.metrics)


def _param(override: str) -> tuple[str, Any]:
    """``optimizer.lr=0.01`` as ``("optimizer.lr", 0.01)``: numbers and lists as values."""
    key, value = override.split("=", 1)
    try:
        return key.lstrip("+~"), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.lstrip("+~"), value


def _trials(sweep_dir: Path, runs: dict[int, Run], tracked: bool, uri: str) -> pd.DataFrame:
    """One row per trial from its outcome (`nnx.sweeps.trial.Outcome`)."""
    from nnx.sweeps.trial import read_outcomes

    rows = []
    for outcome in read_outcomes(sweep_dir):
        row: dict[str, Any] = {"trial": outcome.num, "state": outcome.state, "value": outcome.value,
                               "run_id": outcome.run_id, "error": outcome.error}
        row.update(_param(o) for o in outcome.overrides if "=" in o)
        known = runs.get(outcome.num)
        if known is not None:
            row.update(known.metrics)
        elif tracked and outcome.run_id:
            row.update(_metrics_in_store(outcome.run_id, uri))
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.sort_values("trial", ignore_index=True) if rows else frame


def _best_run(trials: pd.DataFrame, runs: dict[int, Run], sweep_dir: Path, direction: str,
              uri: str) -> Run | None:
    scored = trials[trials["state"].isin(["COMPLETE", "SKIPPED"])] if len(trials) else trials
    scored = scored[[v is not None and math.isfinite(v) for v in scored["value"]]] if len(scored) else scored
    if not len(scored):
        return None
    best = scored.loc[scored["value"].idxmin() if direction == "minimize" else scored["value"].idxmax()]
    num = int(best["trial"])
    if num in runs:
        return runs[num]
    metrics = {k: v for k, v in best.items() if "/" in str(k) and isinstance(v, float)}
    return Run(metrics=metrics, run_id=best["run_id"], run_dir=(sweep_dir / str(num)).resolve(),
               history=pd.DataFrame(), tracking_uri=uri)


def _multirun(overrides: tuple[str, ...], require_search: bool) -> Sweep:
    from hydra.core.hydra_config import HydraConfig

    from nnx.config.identity import direction_of
    from nnx.sweeps import sweep as running
    from nnx.sweeps.study import is_search
    from nnx.sweeps.trial import run_trial

    runs: dict[int, Run] = {}

    def task(cfg: DictConfig) -> Any:
        def train(job: DictConfig, tags: dict[str, str], callbacks: Any) -> tuple[dict, str | None]:
            finished = _train(job, tags, callbacks)
            runs[int(HydraConfig.get().job.num)] = finished
            return finished.metrics, finished.run_id

        return run_trial(cfg, train=train)

    def check(config: DictConfig) -> None:
        if require_search and not is_search(config):
            raise NnxError("nnx.search needs a search: hparams_search=NAME (conf/hparams_search) or "
                           "hydra/sweeper=optuna with hydra.sweeper.params; a grid is nnx.sweep.")

    try:
        _, config = launch(overrides, task, multirun=True, check=check)
    except running.SweepStopped as stopped:
        raise stopped.error from None
    except KeyboardInterrupt:
        running.abort("KILLED")
        raise
    except Exception:
        running.abort("FAILED")
        raise
    sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
    metric = str(config.get("optimized_metric", "val/loss"))
    direction = direction_of(config.hydra.sweeper, metric)
    tracked = OmegaConf.select(config, "tracking.backend") == "mlflow"
    uri = str(OmegaConf.select(config, "tracking.uri"))
    trials = _trials(sweep_dir, runs, tracked, uri)
    if len(trials) and (trials["state"] == "FAIL").all():
        raise NnxError(f"Every trial of the sweep failed; the first: {trials['error'].iloc[0]}")
    return Sweep(trials=trials, best=_best_run(trials, runs, sweep_dir, direction, uri),
                 parent_run_id=running.current().parent_run_id,
                 sweep_dir=sweep_dir, metric=metric, direction=direction)


def sweep(*overrides: str) -> Sweep:
    """Run a sweep, as ``nnx -m OVERRIDES...`` does; return the finished `Sweep`.

    Example: ``nnx.sweep("optimizer.lr=0.001,0.01", "model=mlp,cnn")`` (a grid of 4 trials);
    ``hydra/launcher=joblib`` runs them in parallel. A failed trial does not stop the sweep:
    it is a row with state FAIL; a sweep whose every trial failed raises.
    """
    return _multirun(overrides, require_search=False)


def search(*overrides: str) -> Sweep:
    """Run an Optuna search, as ``nnx -m hparams_search=NAME ...`` does; return the `Sweep`.

    Example: ``nnx.search("hparams_search=mlp_optuna", "hydra.sweeper.n_trials=6")``.
    """
    return _multirun(overrides, require_search=True)
