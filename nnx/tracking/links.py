"""Links into the MLflow UI: a run, and an experiment's runs table.

MLflow 3's UI opens an experiment in a GenAI overview unless the link asks for the
model-training view (``?workflowType=machine_learning``).
"""

from __future__ import annotations

__all__ = ["run_link", "runs_link"]


def run_link(base: str, experiment_id: str, run_id: str) -> str:
    """One run's page."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def runs_link(base: str, experiment_id: str) -> str:
    """The experiment's runs table in MLflow 3's model-training view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
