"""nnx's Optuna sweeper through the `nnx` CLI: resumable studies, pruning, workers, Pareto fronts.

A search about processes (2 forked workers, Ctrl-C, kill -9) runs as a real `nnx` process;
the others run the same command in this process (`tests.cli_inprocess`), submitit's jobs
being processes of their own. Each test's MLflow store starts as a copy of an empty one
(`new_store`), not through MLflow's migrations.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import optuna
import psutil
import pytest
import yaml
from mlflow import MlflowClient
from optuna.trial import TrialState

from tests.cli_inprocess import Outcome, run_cli
from tests.processes import BIN, interrupt_after, start_nnx, wait_for

#: The searches here are about the study, its workers and its MLflow runs, not a trial's
#: content: one epoch on iris, no evaluation report (each trial's report: test_evaluation.py).
FAST = ["data=iris", "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu",
        "eval.report=false"]
#: A search whose trials train for ever, until the test stops it.
ENDLESS = ["data=iris", "trainer.max_epochs=100000", "trainer.accelerator=cpu", "trainer.progress=false",
           "eval.report=false"]
#: Optuna's plots on the parent cost each search about a second of CPU: off where they are
#: not the subject (they are: test_a_search_resumes_to_n_trials_and_its_parent_shows_the_study).
NO_PLOTS = "hydra.sweeper.plots=false"
SEARCH = ["hparams_search=mlp_optuna", "hydra.sweeper.study_name=s", NO_PLOTS]


def _store(tmp_path: Path, experiment: str = "search") -> list[str]:
    return [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", f"tracking.experiment={experiment}"]


def _study(tmp_path: Path, name: str = "s") -> optuna.Study:
    """The study as optuna-dashboard reads it: the journal beside the MLflow store."""
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def _states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def _runs(tmp_path: Path, experiment: str = "search") -> tuple[list, list]:
    """(parent runs, child runs) of one experiment, oldest first."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    return parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def _nnx(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nnx"), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


NnxHere = Callable[..., Outcome]


@pytest.fixture
def nnx_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> NnxHere:
    """``nnx *args`` run in this process in ``folder``, tracked into ``folder``'s store."""

    def run(folder: Path, *args: str, experiment: str = "search") -> Outcome:
        return run_cli([*args, *_store(folder, experiment)], monkeypatch, capsys, folder)

    return run


#: The default study of mlp_optuna on iris (`nnx.sweeps.study`: the search, the model, the data).
DEFAULT_STUDY = "mlp_optuna-mlp-iris"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory,
                new_store) -> tuple[Path, subprocess.CompletedProcess]:
    """One 4-trial search by 2 workers under the default study name, which the tests below
    inspect, continue and try to change (in this order)."""
    folder = tmp_path_factory.mktemp("search")
    new_store(folder / "mlflow.db")
    done = _nnx("hparams_search=mlp_optuna", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
                *FAST, NO_PLOTS, *_store(folder), cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, done


@pytest.mark.slow
def test_two_workers_share_one_study_without_duplicate_trials(two_workers) -> None:
    folder, _ = two_workers
    trials = _study(folder, DEFAULT_STUDY).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert len({t.user_attrs["nnx.pid"] for t in trials}) == 2  # both workers took trials
    parents, children = _runs(folder)
    assert len(parents) == 1
    assert sorted(c.data.tags["optuna.trial_number"] for c in children) == ["0", "1", "2", "3"]
    assert {t.user_attrs["nnx.run_id"] for t in trials} == {c.info.run_id for c in children}
    outcomes = sorted(Path(parents[0].data.tags["nnx.sweep.dir"]).glob("*/nnx-trial.json"))
    assert len(outcomes) == 4  # one record per trial, whichever worker ran it


@pytest.mark.slow
def test_optuna_search_gives_the_parent_the_best_trial(two_workers) -> None:
    folder, _ = two_workers
    parents, children = _runs(folder)
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.data.tags["nnx.sweep.sweeper"] == "NnxOptunaSweeper"
    assert parent.info.run_name == "sweep mlp_optuna"
    values = [c.data.metrics["val/loss"] for c in children]
    assert parent.data.metrics["val/loss"] == pytest.approx(min(values))
    results = yaml.safe_load(Path(parent.data.tags["nnx.sweep.dir"], "optimization_results.yaml")
                             .read_text())
    assert math.isclose(results["best_value"], min(values), rel_tol=1e-6)
    assert len({c.data.params["optimizer.lr"] for c in children}) == 4


@pytest.mark.slow
def test_a_search_resumes_to_n_trials_and_its_parent_shows_the_study(two_workers, nnx_here) -> None:
    folder, _ = two_workers
    again = nnx_here(folder, "hparams_search=mlp_optuna", "hydra.sweeper.n_trials=5", *FAST)
    assert again.code == 0, again.text
    assert "4 of 5 trials finished" in again.out
    study = _study(folder, DEFAULT_STUDY)
    assert _states(study) == ["COMPLETE"] * 5
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 5  # no repeats on resume
    parents, children = _runs(folder)
    assert [len([c for c in children if c.data.tags["mlflow.parentRunId"] == p.info.run_id])
            for p in parents] == [4, 1]
    tags = parents[-1].data.tags
    assert tags["optuna.sampler"] == "tpe" and tags["optuna.pruner"] == "none"
    assert tags["optuna.study_name"] == DEFAULT_STUDY and tags["optuna.storage"].endswith("optuna.journal")
    assert (tags["optuna.complete"], tags["optuna.pruned"], tags["optuna.fail"]) == ("5", "0", "0")
    assert int(tags["optuna.best_trial"]) == study.best_trial.number
    assert parents[-1].data.metrics["optuna/best_value"] == pytest.approx(study.best_value)
    assert {c.data.tags["optuna.trial_number"] for c in children} == {"0", "1", "2", "3", "4"}
    assert {c.data.tags["optuna.trial_state"] for c in children} == {"COMPLETE"}
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    plots = {Path(a.path).name for a in client.list_artifacts(parents[-1].info.run_id, "optuna")}
    assert {"optimization_history.png", "parallel_coordinate.png"} <= plots


@pytest.mark.slow
def test_a_changed_space_is_refused_under_the_default_name_and_continued_under_an_explicit_one(
        two_workers, nnx_here) -> None:
    folder, _ = two_workers
    narrower = ["hparams_search=mlp_optuna", "optimizer.lr=tag(log,interval(0.001,0.002))", *FAST, NO_PLOTS]
    refused = nnx_here(folder, *narrower, "hydra.sweeper.n_trials=6")
    assert refused.code == 2, refused.out
    [line] = refused.err.strip().splitlines()
    assert f"Study '{DEFAULT_STUDY}'" in line
    assert "searched another space or objective (changed: optimizer.lr)" in line
    assert len(_study(folder, DEFAULT_STUDY).trials) == 5  # nothing trained
    named = nnx_here(folder, *narrower, "hydra.sweeper.n_trials=6",
                     f"hydra.sweeper.study_name={DEFAULT_STUDY}")
    assert named.code == 0, named.text
    last = _study(folder, DEFAULT_STUDY).trials[-1]
    assert len(_study(folder, DEFAULT_STUDY).trials) == 6 and 0.001 <= last.params["optimizer.lr"] <= 0.002


def _sweep(tmp_path: Path, *args: str) -> subprocess.Popen:
    return start_nnx([*SEARCH, *args, *_store(tmp_path)], tmp_path)


def _workers(sweep: subprocess.Popen) -> list[psutil.Process]:
    """The sweep's worker processes: forked from it, they keep its command line (its tracking
    writers and multiprocessing's helper are spawned: ``python -c ...``, before they rename)."""
    driver = psutil.Process(sweep.pid)
    return [p for p in driver.children() if p.cmdline() == driver.cmdline()]


@pytest.mark.slow
def test_ctrl_c_after_a_worker_died_of_sigkill_keeps_the_study_and_a_rerun_ends_at_exactly_n_trials(
        nnx_here, tmp_path: Path, new_store) -> None:
    """Trial #0 finishes; then two workers train #1 and #2 for ever, one is killed by SIGKILL
    and the search is stopped with Ctrl-C: one real search serves both stops."""
    new_store(tmp_path / "mlflow.db")
    done = nnx_here(tmp_path, *SEARCH, "hydra.sweeper.n_trials=1", *FAST)
    assert done.code == 0, done.text
    # no epoch lines: the driver's line must not land inside a worker's (print writes a line's
    # text and its end apart when Python's output is unbuffered, PYTHONUNBUFFERED=1)
    sweep = _sweep(tmp_path, "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2", *ENDLESS)
    try:
        seen = wait_for(sweep, "training for", count=2)  # both workers train a trial
        victim, *_ = _workers(sweep)
        os.kill(victim.pid, signal.SIGKILL)
        # the driver prints "nnx: trial #N failed: worker ... died" once it marked the trial
        out = "".join(seen) + interrupt_after(sweep, "nnx: trial #")  # the other trains for ever
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, out
    trials = _study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "FAIL"]  # the study is intact
    assert any("died" in t.user_attrs.get("nnx.error", "") for t in trials), out
    parents, children = _runs(tmp_path)
    assert parents[-1].info.status == "KILLED"
    stopped = [c for c in children if c.data.tags["mlflow.parentRunId"] == parents[-1].info.run_id]
    assert sorted(c.info.status for c in stopped) == ["FAILED", "KILLED"]  # none left RUNNING
    again = nnx_here(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3", *FAST)
    assert again.code == 0, again.text
    assert _states(_study(tmp_path)) == ["COMPLETE", "FAIL", "FAIL", "COMPLETE", "COMPLETE"]


@pytest.mark.slow
def test_sigterm_stops_a_search_and_its_workers_as_ctrl_c_does(tmp_path: Path, new_store) -> None:
    """SIGTERM (a job manager, ``timeout``) to the driver: its workers, in sessions of their
    own, stop after their epoch instead of training on without it."""
    new_store(tmp_path / "mlflow.db")
    sweep = _sweep(tmp_path, "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", *ENDLESS)
    workers: list[psutil.Process] = []
    try:
        seen = wait_for(sweep, "training for", count=2)  # both workers train a trial
        workers = _workers(sweep)
        sweep.send_signal(signal.SIGTERM)
        out = "".join(seen) + sweep.communicate(timeout=120)[0]
    finally:
        for process in [sweep, *workers]:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                process.kill()
    assert sweep.returncode == 143, out
    assert "nnx: interrupted: SIGTERM" in out
    assert len(workers) == 2 and not any(w.is_running() for w in workers)
    assert _states(_study(tmp_path)) == ["FAIL", "FAIL"]
    parents, children = _runs(tmp_path)
    assert [p.info.status for p in parents] == ["KILLED"]
    assert [c.info.status for c in children] == ["KILLED", "KILLED"]


@pytest.mark.slow
def test_pruned_trials_end_killed_and_tagged_in_mlflow_and_pruned_in_optuna(
        nnx_here, tmp_path: Path, new_store) -> None:
    new_store(tmp_path / "mlflow.db")
    result = nnx_here(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3", "hydra/sweeper/pruner=median",
                      "hydra.sweeper.pruner.n_startup_trials=1", *FAST, "trainer.max_epochs=4")
    assert result.code == 0, result.text
    trials = _study(tmp_path).trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, result.out
    parents, children = _runs(tmp_path)
    by_number = {c.data.tags["optuna.trial_number"]: c for c in children}
    for trial in pruned:
        run = by_number[str(trial.number)]
        assert run.info.status == "KILLED"
        assert run.data.tags["nnx.pruned"] == "true"
        assert int(run.data.tags["nnx.pruned_epoch"]) == len(trial.intermediate_values)
        assert run.data.tags["optuna.trial_state"] == "PRUNED"
    assert parents[0].data.tags["optuna.pruned"] == str(len(pruned))
    assert f"{len(pruned)} pruned" in result.out


@pytest.fixture(scope="module")
def _pareto_by_submitit(tmp_path_factory: pytest.TempPathFactory, new_store) -> dict:
    folder = tmp_path_factory.mktemp("pareto")
    new_store(folder / "mlflow.db")
    return {"folder": folder}


@pytest.fixture
def pareto_by_submitit(_pareto_by_submitit: dict, nnx_here: NnxHere,
                       monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Outcome]:
    """One 3-trial multi-objective search whose trials run in 2 submitit_local jobs, processes
    of their own; the search that submits them runs in this one. The first test that reads it
    runs it, the other shares it. The jobs track inline (``NNX_TRACKING_WRITER=inline``: no
    writer process each); a submitit job's own writer process: tests/e2e/test_scale.py."""
    folder = _pareto_by_submitit["folder"]
    if "search" not in _pareto_by_submitit:
        monkeypatch.setenv("NNX_TRACKING_WRITER", "inline")
        _pareto_by_submitit["search"] = nnx_here(
            folder, *SEARCH, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.n_trials=3", "hydra.sweeper.direction=[minimize,maximize]",
            "hydra.sweeper.metrics=[val/loss,val/acc]", *FAST)
    return folder, _pareto_by_submitit["search"]


@pytest.mark.slow
def test_submitit_local_jobs_are_workers_of_one_study(pareto_by_submitit) -> None:
    folder, result = pareto_by_submitit
    assert result.code == 0, result.text
    trials = _study(folder).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert len({t.user_attrs["nnx.pid"] for t in trials}) == 2  # two submitit jobs took trials
    _, children = _runs(folder)
    assert sorted(c.data.tags["optuna.trial_number"] for c in children) == ["0", "1", "2"]


@pytest.mark.slow
def test_multi_objective_search_puts_the_pareto_front_on_its_parent(
        pareto_by_submitit, capsys: pytest.CaptureFixture) -> None:
    folder, result = pareto_by_submitit
    assert result.code == 0, result.text
    study = _study(folder)
    front = sorted(t.number for t in study.best_trials)
    parents, children = _runs(folder)
    assert parents[0].data.tags["nnx.pareto_trials"] == ",".join(map(str, front))
    marked = sorted(int(c.data.tags["optuna.trial_number"]) for c in children
                    if c.data.tags.get("nnx.pareto") == "true")
    assert marked == front
    from nnx.cli.compare import main as nnx_compare

    nnx_compare(["--uri", f"sqlite:///{folder / 'mlflow.db'}", "--experiment", "search",
                 "--sweep", "latest"])
    shown = capsys.readouterr().out
    assert sum(line.startswith("P ") for line in shown.splitlines()) == len(front), shown


@pytest.mark.slow
def test_the_shipped_cnn_search_runs(nnx_here, tmp_path: Path, new_store) -> None:
    new_store(tmp_path / "mlflow.db")
    result = nnx_here(tmp_path, "hparams_search=cnn_optuna", "hydra.sweeper.n_trials=1",
                      "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu",
                      "eval.report=false", NO_PLOTS)
    assert result.code == 0, result.text
    assert _states(_study(tmp_path, "cnn_optuna-cnn-mnist1d")) == ["COMPLETE"]


@pytest.mark.parametrize(("override", "message"), [
    ("hydra/sweeper/pruner=medain", "Unknown hydra/sweeper/pruner option 'medain'. Did you mean 'median'?"),
    ("hydra/sweeper/sampler=tpe2", "Unknown hydra/sweeper/sampler option 'tpe2'."),
    ("optimizer.lr=interval(0.1,0.01)", "expected interval(low, high) with low < high"),
    ("optimizer.lr=tag(log, interval(0, 1))", "expected a log interval with low > 0"),
    ("hydra.sweeper.direction=[minimize,maximize]", "expected one direction per metric"),
    ("hydra.sweeper.pruner.n_startup_trials=x", "Bad value for 'hydra.sweeper.pruner.n_startup_trials'"),
])
def test_a_bad_search_config_is_one_line_and_exit_2_before_any_trial(
        nnx_here, tmp_path: Path, override: str, message: str) -> None:
    extra = ["hydra/sweeper/pruner=median"] if "pruner.n_startup" in override else []
    result = nnx_here(tmp_path, *SEARCH, *extra, override, *FAST)
    assert result.code == 2, result.err
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "optuna.journal").exists()


@pytest.mark.slow
def test_pruning_with_folds_counts_steps_across_folds_and_skips_the_remaining_folds(
        nnx_here, tmp_path: Path, new_store) -> None:
    new_store(tmp_path / "mlflow.db")
    result = nnx_here(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3", "hydra/sweeper/pruner=median",
                      "hydra.sweeper.pruner.n_startup_trials=1", "eval.folds=2", *FAST,
                      "trainer.max_epochs=2")
    assert result.code == 0, result.text
    trials = _study(tmp_path).trials
    assert sorted(trials[0].intermediate_values) == [0, 1, 2, 3]  # 2 folds x 2 epochs
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    _, runs = _runs(tmp_path)
    for trial in pruned:
        [run] = [r for r in runs if r.data.tags.get("optuna.trial_number") == str(trial.number)]
        assert run.info.status == "KILLED" and run.data.tags["nnx.pruned"] == "true"
        folds = [r for r in runs if r.data.tags["mlflow.parentRunId"] == run.info.run_id]
        assert len(folds) == 1 + (max(trial.intermediate_values) >= 2)  # no fold after the prune
