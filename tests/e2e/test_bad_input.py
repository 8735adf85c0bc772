"""Bad input fails fast: one line naming the key, the value and what is allowed; no traceback.

Each case runs the `nnx` entry point in process (see `tests.cli_inprocess`) and asserts the
exit code, the absence of a traceback and a word that only the right message contains.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.cli_inprocess import run_cli
from tests.servers import free_port

FAST = ["trainer.max_epochs=1", "trainer.accelerator=cpu", "trainer.progress=false"]

CONFIG_CASES = {
    "lr_zero": (["optimizer.lr=0"], "optimizer.lr"),
    "lr_negative": (["optimizer=sgd", "optimizer.lr=-0.1"], "a number > 0"),
    "batch_size_zero": (["data.batch_size=0"], "data.batch_size"),
    "dropout_one": (["model.dropout=1.0"], "[0, 1)"),
    "activation_typo": (["model.activation=relux"], "Did you mean 'relu'"),
    "init_typo": (["model.init=xavierr"], "Did you mean 'xavier'"),
    "loss_typo": (["loss=crossentropy"], "Did you mean 'cross_entropy'"),
    "max_epochs_zero": (["trainer.max_epochs=0"], "trainer.max_epochs"),
    "max_epochs_not_int": (["trainer.max_epochs=many"], "trainer.max_epochs"),
    "unknown_model": (["model=mlpp"], "Did you mean 'mlp'"),
    "unknown_optimizer": (["optimizer=adamm"], "Did you mean 'adam'"),
    "unknown_key": (["model.hiden=[8]"], "Did you mean 'hidden'"),
    "precision_typo": (["trainer.precision=bf17-mixed"], "Did you mean 'bf16-mixed'"),
    "accelerator_typo": (["trainer.accelerator=gpux"], "Did you mean 'gpu'"),
    "strategy_typo": (["trainer.strategy=dpp"], "Did you mean 'ddp'"),
    "devices_zero": (["trainer.devices=0"], "trainer.devices"),
    "adam_beta": (["optimizer.beta1=1.5"], "optimizer.beta1"),
    "nesterov_without_momentum": (
        ["optimizer=sgd", "optimizer.momentum=0", "optimizer.nesterov=true"], "momentum"
    ),
    "monitor_not_a_metric": (["callbacks=[early_stopping]", "callbacks.early_stopping.monitor=loss"],
                             "callbacks.early_stopping.monitor"),
    "callback_typo": (["callbacks=[early_stoping]"], "Did you mean 'early_stopping'"),
    "callback_patience": (["callbacks=[checkpoint,early_stopping]", "callbacks.early_stopping.patience=0"],
                          "callbacks.early_stopping.patience"),
    "callback_unknown_key": (["+callbacks.early_stopping.patiense=3"], "Did you mean 'patience'"),
    "moved_early_stopping": (["trainer.early_stopping.enabled=true"], "use callbacks=[early_stopping]"),
    "moved_checkpoint_key": (["trainer.checkpoint.monitor=val/acc"], "use callbacks.checkpoint.monitor"),
    "eval_weights": (["eval.weights=bset"], "Did you mean 'best'"),
    "optimized_metric": (["optimized_metric=valloss"], "optimized_metric"),
    "clip_negative": (["trainer.gradient_clip_val=-1"], "gradient_clip_val"),
    "val_fraction": (["data.val_fraction=1.5"], "data.val_fraction"),
    "seed_negative": (["seed=-1"], "seed"),
    "scheduler_gamma": (["scheduler=step", "scheduler.gamma=0"], "scheduler.gamma"),
    "plateau_factor": (["scheduler=plateau", "scheduler.factor=2"], "scheduler.factor"),
    "tracking_scheme": (["tracking.uri=htp://127.0.0.1:5000"], "Did you mean 'http'"),
    "tracking_experiment": (["tracking.experiment= "], "tracking.experiment"),
    "unknown_data": (["data=digitz"], "Did you mean 'digits'"),
    "resume_missing": (["resume=0123456789abcdef0123456789abcdef"], "resume"),
    "rerun_missing": (["rerun=0123456789abcdef0123456789abcdef"], "rerun"),
    "seeds_zero": (["eval.seeds=0"], "eval.seeds"),
    "generator_given_a_file": (["data=timeseries", "data.source=ar", "data.path=x.csv"],
                               "expected null with source=ar"),
    "classes_with_regression": (["data=csv", "data.path=x.csv", "data.target=y", "data.task=regression",
                                 "data.classes=[a,b]"], "data.classes"),
}


def test_newcomer_misreads_fail_in_one_line_leaving_the_store_untouched(
    monkeypatch, capsys, tmp_path
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database\n")
    outcome = run_cli([*FAST, f"tracking.uri=sqlite:///{notes}"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2 and "Traceback" not in outcome.text
    assert "which is not a SQLite database" in outcome.err
    assert notes.read_text() == "not a database\n"
    (tmp_path / "one.csv").write_text("a,b,y\n1,2,yes\n3,4,yes\n5,6,yes\n4,4,yes\n")
    outcome = run_cli([*FAST, "tracking=none", "data=csv", "data.path=one.csv", "data.target=y"],
                      monkeypatch, capsys, tmp_path)
    assert outcome.code == 2 and "Traceback" not in outcome.text
    assert "holds a single class ('yes')" in outcome.err


@pytest.mark.parametrize("args, word", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_fails_in_one_line(
    args, word, monkeypatch, capsys, tmp_path, mlflow_uri
) -> None:
    outcome = run_cli([*FAST, f"tracking.uri={mlflow_uri}", *args], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert word in outcome.err
    assert not (tmp_path / "outputs" / "runs").exists() or not list(
        (tmp_path / "outputs" / "runs").rglob("checkpoints")
    ), "training started"


def test_unreachable_server_fails_before_the_data_naming_the_uri(monkeypatch, capsys, tmp_path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    outcome = run_cli([*FAST, f"tracking.uri={uri}"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert f"Cannot reach the MLflow tracking server at tracking.uri={uri}" in outcome.err
    assert "data digits" not in outcome.out, "data was loaded before the store was checked"


def test_unwritable_store_is_reported_before_training(monkeypatch, capsys, tmp_path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the store's folder should be")
    uri = f"sqlite:///{blocker}/mlflow.db"
    outcome = run_cli([*FAST, f"tracking.uri={uri}"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert "Cannot write the MLflow store" in outcome.err and str(blocker) in outcome.err
    assert "data digits" not in outcome.out


def test_device_this_machine_lacks(monkeypatch, capsys, tmp_path) -> None:
    outcome = run_cli([*FAST[:1], "trainer.accelerator=mps", "tracking=none"], monkeypatch, capsys,
                      tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert "trainer" in outcome.err and "MPS" in outcome.err


def test_loss_that_does_not_fit_the_data(monkeypatch, capsys, tmp_path) -> None:
    outcome = run_cli([*FAST, "loss=binary_cross_entropy", "tracking=none"], monkeypatch, capsys,
                      tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert "binary classification" in outcome.err


def test_resume_dir_without_record(monkeypatch, capsys, tmp_path) -> None:
    empty = tmp_path / "empty_run"
    empty.mkdir()
    outcome = run_cli([f"resume={empty}", "tracking=none"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert "nnx_run.yaml" in outcome.err


def test_resume_rejects_changing_the_model(monkeypatch, capsys, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run_dir / "nnx_run.yaml").write_text("run_id: null\nconfig: {}\n")
    outcome = run_cli([f"resume={run_dir}", "model=perceptron"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text
    assert "keeps its model" in outcome.err


def test_nan_loss_names_epoch_step_and_a_hint(monkeypatch, capsys, tmp_path) -> None:
    outcome = run_cli(
        [*FAST, "optimizer=sgd", "optimizer.lr=1e30", "tracking=none"], monkeypatch, capsys,
        tmp_path,
    )
    assert outcome.code == 1, outcome.text
    assert "Traceback" not in outcome.text
    assert "at epoch 0, step" in outcome.err and "gradient_clip_val" in outcome.err


def _one_line(outcome) -> str:
    """The error line of a command that failed on bad input: exit 2, that line alone on stderr."""
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text and "Warning" not in outcome.text, outcome.text
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnx: error: "), outcome.err
    return lines[0]


def test_a_mapping_given_for_a_list(monkeypatch, capsys, tmp_path) -> None:
    line = _one_line(run_cli([*FAST, "tracking=none", "model.hidden={a:1}"], monkeypatch, capsys, tmp_path))
    assert "Bad value for 'model.hidden': '{a:1}'; expected a list, as the key holds" in line


def test_a_syntax_error_in_the_users_own_yaml_names_file_and_line(monkeypatch, capsys, tmp_path) -> None:
    mine = tmp_path / "myconf" / "experiment" / "mine.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# @package _global_\nmodel:\n  hidden: [3\ntrainer:\n  max_epochs: 1\n")
    line = _one_line(run_cli(["--config-dir", str(tmp_path / "myconf"), "experiment=mine",
                              "tracking=none"], monkeypatch, capsys, tmp_path))
    assert f"YAML syntax error in {mine}, line 4" in line and "from line 3" in line


@pytest.mark.parametrize("where", ["hydra.run.dir", "output_dir", "hydra.sweep.dir"])
def test_an_output_folder_that_cannot_be_created(where, monkeypatch, capsys, tmp_path, mlflow_uri) -> None:
    (tmp_path / "blocker").write_text("a file where the folder should be")
    multirun = ["-m", "optimizer.lr=0.1,0.2"] if where == "hydra.sweep.dir" else []
    experiment = f"unmade_{where}"
    line = _one_line(run_cli([*multirun, *FAST, f"tracking.uri={mlflow_uri}",
                              f"tracking.experiment={experiment}", f"{where}=blocker/run"],
                             monkeypatch, capsys, tmp_path))
    assert "blocker/run" in line and "Not a directory" in line
    _no_run(mlflow_uri, experiment)


def test_a_model_too_large_for_memory_says_what_it_needs_before_allocating(
    monkeypatch, capsys, tmp_path, mlflow_uri
) -> None:
    line = _one_line(run_cli([*FAST, f"tracking.uri={mlflow_uri}", "tracking.experiment=too_large",
                              "model.hidden=[200000,200000]"], monkeypatch, capsys, tmp_path))
    assert "Model 'mlp' is too large for this machine: its 40,015,200,010 parameters need about" in line
    assert "GiB is available" in line
    _no_run(mlflow_uri, "too_large")


def _no_run(uri: str, name: str) -> None:
    """Nothing was recorded: the experiment has no run (or does not exist)."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is None or not client.search_runs([experiment.experiment_id])
