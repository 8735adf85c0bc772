"""The code MLflow runs to load a run's logged model (MLflow's "models from code"): no pickle.

`nnx.tracking.mlflow_run.MlflowTracker.log_model` copies this file into the model; loading
the model runs it, and it names the `nnx.training.serving.NnxModel` to serve.
"""

import mlflow.models

from nnx.training.serving import NnxModel

mlflow.models.set_model(NnxModel())
