"""Shared fixtures: composed configs for in-process runs and a runner for the `nnx` CLI."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

BIN = Path(sys.executable).parent


#: The variables that size torch's intra-op thread pool (OpenMP's and MKL's).
TORCH_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the cores are shared out among the workers: each worker, and every
    `nnx` it starts, runs torch on cores // workers intra-op threads (1 on 2 cores), set before
    any test module imports torch. With a thread per core in every process, OpenMP's threads
    spin against the other workers' processes: in-process, a digits MLP's 10 epochs took 4.0 s
    instead of 0.35 s on 2 busy cores, test_zoo_training.py 165 s instead of 48 s. A value set
    outside the suite is kept; -n 0 leaves torch its default."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    for name in TORCH_THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    if "torch" in sys.modules:  # imported by a plugin already: its thread pool is sized
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers follow folders: every test under tests/e2e is ``e2e`` (``slow`` is marked where
    a test trains for long); a test under tests/unit carries neither, or collection stops.
    Then the heaviest files come first (see `_heaviest_files_first`)."""
    for item in items:
        folder = item.path.parent.name
        if folder == "e2e":
            item.add_marker(pytest.mark.e2e)
        elif folder == "unit" and any(m.name in ("e2e", "slow") for m in item.iter_markers()):
            raise pytest.UsageError(f"{item.nodeid} is marked e2e or slow: it belongs in tests/e2e")
    _heaviest_files_first(items)


def _heaviest_files_first(items: list[pytest.Item]) -> None:
    """Orders the files by their weight: most tests marked ``slow`` first, then e2e files, then
    unit files; a file's tests keep their order (some share a module's run in sequence).

    Under ``--dist loadfile --no-loadscope-reorder`` (pyproject.toml) the workers take files in
    this order, so the long ones start early and the many short unit files fill in at the end:
    the workers finish together. xdist's own order (most tests first) would start the files of
    a few long tests last, and one worker would run them alone."""
    slow: dict[Path, int] = {}
    for item in items:
        slow[item.path] = slow.get(item.path, 0) + (item.get_closest_marker("slow") is not None)
    position = {path: index for index, path in enumerate(slow)}
    items.sort(key=lambda item: (-slow[item.path], item.path.parent.name != "e2e", position[item.path]))


@pytest.fixture(autouse=True)
def _no_hydra_state_between_tests() -> Iterator[None]:
    """A test starts without the Hydra job of an earlier in-process test: its config would make
    a plain `pipeline.run` look like a sweep's trial (which, for one, registers no model), and
    its logging handlers would write to that test's closed output capture."""
    import logging

    handlers = logging.root.handlers[:]
    yield
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().cfg = None
    logging.root.handlers[:] = handlers


@pytest.fixture(scope="session", autouse=True)
def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One data cache for the session (MNIST-1D is generated once), outside ~/.cache."""
    os.environ.setdefault("NNX_CACHE_DIR", str(tmp_path_factory.mktemp("nnx-cache")))


#: MLflow's own default store: what a call that names no tracking URI writes into the working
#: directory (``./mlflow.db`` since MLflow 3.7, ``./mlruns`` before; artifacts in ./mlartifacts).
DEFAULT_STORES = ("mlflow.db", "mlruns", "mlartifacts")
#: In the tests, MLFLOW_TRACKING_URI is nnx's own local default. nnx honours the variable, so
#: commands behave as they do without it; an MLflow call that forgets its URI then writes
#: ``outputs/mlflow.db`` of the test process's working directory, which must not appear.
TEST_DEFAULT_STORE = "sqlite:///outputs/mlflow.db"


@pytest.fixture(scope="session", autouse=True)
def _no_default_mlflow_store() -> Iterator[None]:
    """No MLflow call may fall back to a default store, here or in `nnx` subprocesses.

    ``MLFLOW_TRACKING_URI`` is set to nnx's local default (subprocesses inherit it; a test
    that checks the variable sets its own), and the session fails if MLflow's default store,
    or that local store of the pytest process, appeared in the working directory or the
    repository.
    """
    folders = {Path.cwd(), Path(__file__).resolve().parents[1]}
    names = (*DEFAULT_STORES, "outputs/mlflow.db")
    before = {folder / name for folder in folders for name in names if (folder / name).exists()}
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = TEST_DEFAULT_STORE
    yield
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous
    made = {folder / name for folder in folders for name in names if (folder / name).exists()}
    assert not made - before, f"a test wrote MLflow's default store: {sorted(map(str, made - before))}"


@pytest.fixture(scope="session")
def _migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store whose tables MLflow's migrations made, once per session (they take
    seconds). Without its ``Default`` experiment: whoever opens a copy creates that, with its
    own artifact location, as for a store it creates itself."""
    import sqlite3

    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM experiments WHERE name = 'Default'")
    connection.close()
    return path


@pytest.fixture(scope="session")
def new_store(_migrated_store: Path) -> Callable[[Path], str]:
    """``new_store(path)``: an empty SQLite store at ``path``, its tables made (a copy of the
    session's migrated store, at once); returns its URI. For tests about where runs land, not
    about creating a store (tests/e2e/test_default_store.py creates its own)."""

    def make(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_store, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[Path], str]) -> str:
    """One SQLite store per session."""
    return new_store(tmp_path_factory.mktemp("mlflow") / "mlflow.db")


def _experiment_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-200:]


@pytest.fixture
def make_cfg(
    tmp_path: Path, mlflow_uri: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., DictConfig]:
    """Compose ``conf/train.yaml`` with overrides, writing into this test's tmp dir.

    Tracking goes to the session's SQLite store, one experiment per test; pass
    ``tracking=False`` for no tracking. Its runs write their tracking in this process
    (`tests.cli_inprocess.write_inline`: a writer process would cost a Python start and
    MLflow's import, 2-5 CPU s); ``writer_process=True`` keeps nnx's writer process.
    """
    from tests.cli_inprocess import write_inline

    inline: list[bool] = []  # made inline already, for this test

    def make(*overrides: str, tracking: bool = True, writer_process: bool = False) -> DictConfig:
        base = [f"output_dir={tmp_path}", "trainer.progress=false", "trainer.accelerator=cpu"]
        if tracking:
            base += [f"tracking.uri={mlflow_uri}", f"tracking.experiment={_experiment_name(request)}"]
            if not writer_process and not inline:
                write_inline(monkeypatch, request)
                inline.append(True)
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


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[Path], str]) -> Iterator[dict]:
    """One real `mlflow server --app-name basic-auth` (SQLite stores, proxied artifacts) on
    127.0.0.1 for the whole session, stopped at its end: the tests that need a tracking
    server share it, each in its own experiment, as a team does. Its admin is ``admin``."""
    from tests.servers import basic_auth_server

    folder = tmp_path_factory.mktemp("team-server")
    password = f"admin-{secrets.token_hex(8)}"
    new_store(folder / "db.sqlite")  # its tracking store, tables made; the auth store it makes
    with basic_auth_server(folder, password) as base:
        yield {"base": base, "host": base.removeprefix("http://"), "folder": folder,
               "admin": password, "db": folder / "db.sqlite"}
