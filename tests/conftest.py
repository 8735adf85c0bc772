"""Shared fixtures: composed configs for in-process runs and a runner for the `nnx` CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One data cache for the session (MNIST-1D is generated once), outside ~/.cache."""
    os.environ.setdefault("NNX_CACHE_DIR", str(tmp_path_factory.mktemp("nnx-cache")))


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store per session: creating a store runs MLflow's migrations (seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _experiment_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-200:]


@pytest.fixture
def make_cfg(
    tmp_path: Path, mlflow_uri: str, request: pytest.FixtureRequest
) -> Callable[..., DictConfig]:
    """Compose ``conf/train.yaml`` with overrides, writing into this test's tmp dir.

    Tracking goes to the session's SQLite store, one experiment per test; pass
    ``tracking=False`` for no tracking.
    """

    def make(*overrides: str, tracking: bool = True) -> DictConfig:
        base = [f"output_dir={tmp_path}", "trainer.progress=false", "trainer.accelerator=cpu"]
        if tracking:
            base += [f"tracking.uri={mlflow_uri}", f"tracking.experiment={_experiment_name(request)}"]
        else:
            base += ["tracking=none"]
        with initialize_config_module("nnx_conf", version_base="1.3"):
            return compose("train", overrides=[*base, *overrides])

    return make


@pytest.fixture
def run_nnx(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run an installed console script (default ``nnx``) in this test's tmp dir."""

    def run(*args: str, script: str = "nnx", timeout: float = 300, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / script), *args], cwd=cwd or tmp_path, capture_output=True, text=True,
            timeout=timeout, env={**os.environ, **(env or {})},
        )

    return run
