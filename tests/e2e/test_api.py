"""The Python API: `nnx.run`, `nnx.sweep`, `nnx.search`, `nnx.load` in one process, and the
notebook that documents them (examples/api.ipynb) run top to bottom in a real kernel."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import nnx
from nnx.errors import NnxError, UnknownNameError
from tests.cli_inprocess import write_inline

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "api.ipynb"
#: Short runs without the evaluation report (not checked here; the notebook draws it).
FAST = ("data=iris", "trainer.max_epochs=2", "trainer.progress=false", "trainer.accelerator=cpu",
        "eval.report=false")


@pytest.mark.slow
def test_calls_repeat_in_one_process(tmp_path, monkeypatch, mlflow_uri, request) -> None:
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    monkeypatch.chdir(tmp_path)
    write_inline(monkeypatch, request)  # as in the notebook below: no writer process to spawn
    store = (f"tracking.uri={mlflow_uri}", "tracking.experiment=api")
    with initialize_config_module("nnx_conf", version_base="1.3"):  # the caller's own Hydra
        first = nnx.run(*FAST, *store)
        with pytest.raises(UnknownNameError, match=r"Unknown model option 'mpl'\. Did you mean 'mlp'\?"):
            nnx.run(*FAST, "model=mpl")
        sweep = nnx.sweep(*FAST, *store, "optimizer.lr=0.001,0.03")  # the next call works
        assert GlobalHydra.instance().is_initialized()  # given back as it was
    assert list(first.history["epoch"]) == [1, 2] and "val/loss" in first.history
    assert first.figures["learning_curves"].is_file()
    rows = first.predictor.predict_proba([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert list(rows.columns) == ["setosa", "versicolor", "virginica"]
    assert rows.sum(axis=1).round(6).tolist() == [1.0, 1.0]
    setosa = [[5.1, 3.5, 1.4, 0.2]]
    by_id = nnx.load(first.run_id, tracking_uri=mlflow_uri).predict(setosa)
    assert by_id.equals(first.predictor.predict(setosa))

    assert sweep.trials["optimizer.lr"].tolist() == [0.001, 0.03]
    assert sweep.trials["state"].tolist() == ["COMPLETE", "COMPLETE"]
    losses = sweep.trials["val/loss"].tolist()
    assert sweep.best.metrics["val/loss"] == min(losses) and sweep.direction == "minimize"
    assert sweep.best.run_id == sweep.trials["run_id"][losses.index(min(losses))]
    # the same seed and config as the first run: the same metrics (nothing leaked between calls)
    assert sweep.trials["test/acc"][0] == first.metrics["test/acc"]
    assert sweep.parent_run_id and sweep.parent_run_id not in set(sweep.trials["run_id"])

    with pytest.raises(NnxError, match="call nnx.sweep or nnx.search"):
        nnx.run(*FAST, "hparams_search=mlp_optuna")
    with pytest.raises(NnxError, match="nnx.search needs a search"):
        nnx.search(*FAST, "optimizer.lr=0.003,0.03")


@pytest.mark.slow
def test_a_failed_trial_is_a_row_and_all_failed_raises(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    sweep = nnx.sweep(*FAST, "tracking=none", "model=mlp,perceptron")  # perceptron: binary only
    assert sweep.trials["state"].tolist() == ["COMPLETE", "FAIL"]
    assert "binary task" in sweep.trials["error"][1] and math.isfinite(sweep.best.metrics["test/acc"])
    with pytest.raises(NnxError, match="Every trial of the sweep failed; the first: .*binary task"):
        nnx.sweep(*FAST, "tracking=none", "model=perceptron", "optimizer.lr=0.01,0.1")


@pytest.mark.slow
def test_a_search_leaves_the_callers_torch_threads(tmp_path, monkeypatch) -> None:
    """The trials run on the search's `torch_threads`; the notebook's own setting is back after."""
    import torch

    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # not a search's (cores // n_jobs here, or torch_threads=1 below)
    try:
        found = nnx.search(*FAST, "tracking=none", "hparams_search=mlp_optuna", "hydra.sweeper.n_trials=1",
                           "hydra.sweeper.torch_threads=1", "hydra.sweeper.plots=false")
        assert found.trials["state"].tolist() == ["COMPLETE"]
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch, new_store) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_store(tmp_path / "mlflow.db"))  # the kernel's
    # Its tracking writes in the kernel (the writer process is tests/e2e/test_tracking_writer.py's):
    # a writer process per call would import MLflow again, seconds each.
    monkeypatch.setenv("NNX_TRACKING_WRITER", "inline")
    # The kernel is this interpreter's ipykernel (jupyter's native "python3" kernel).
    client = NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # a cell that raises fails the test (CellExecutionError)
    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
    assert "Unknown model option 'mpl'. Did you mean 'mlp'?" in text
    assert "sweep: 2 trials, 2 finished" in text and "study 'mlp_optuna-mlp-iris'" in text
    assert "prob_setosa" in text and "Traceback" not in text


def test_docs_page_shows_the_notebook_code() -> None:
    """docs/pages/python.md is the notebook's page: every code cell appears there as it is."""
    import nbformat

    page = (ROOT / "docs" / "pages" / "python.md").read_text()
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code":
            assert cell.source in page, f"docs/pages/python.md lacks the notebook cell:\n{cell.source}"
