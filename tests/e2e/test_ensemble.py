"""A k-fold or multi-seed run predicts as the ensemble of its models (`nnx.load`, `nnx-predict`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nnx
from nnx.cli import predict as predict_cli
from nnx.models.ensemble import Ensemble
from nnx.models.predictor import Predictor
from nnx.training.pipeline import run

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]], columns=COLUMNS)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_kfold_parent_predicts_the_mean_of_its_folds(make_cfg, mlflow_uri, tmp_path, capsys) -> None:
    _, objects = run(make_cfg("data=iris", "eval.folds=3", "trainer.max_epochs=2"))
    run_dir = Path(objects["recipe"].run.output_dir)
    folds = [Predictor.load(run_dir / f"fold-{i}" / "predictor") for i in (1, 2, 3)]
    expected = np.mean([fold.predict_proba(ROWS).to_numpy() for fold in folds], axis=0)

    ensemble = nnx.load(run_dir)
    assert isinstance(ensemble, Ensemble) and len(ensemble) == 3
    assert np.allclose(ensemble.predict_proba(ROWS).to_numpy(), expected, atol=1e-12)
    answer = ensemble.predict(ROWS)
    assert answer["prediction"].tolist() == [ensemble.classes[i] for i in expected.argmax(1)]
    assert np.allclose(answer[[f"prob_{c}" for c in ensemble.classes]].to_numpy(), expected)

    by_id = nnx.load(objects["tracker"].run_id, tracking_uri=mlflow_uri)  # the parent run's id
    assert len(by_id) == 3 and np.allclose(by_id.predict_proba(ROWS).to_numpy(), expected, atol=1e-12)

    capsys.readouterr()
    ROWS.to_csv(tmp_path / "rows.csv", index=False)
    predict_cli.main([str(run_dir), "--input", str(tmp_path / "rows.csv")])
    out, err = capsys.readouterr()
    assert "nnx-predict: the mean of 3 models (the run's folds or seeds)" in err
    assert np.allclose(pd.read_csv(pd.io.common.StringIO(out))[[f"prob_{c}" for c in ensemble.classes]],
                       expected, atol=1e-9)
