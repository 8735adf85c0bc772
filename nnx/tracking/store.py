"""Opening a tracking store: checked, named in every error, safe for many processes at once.

Every process that writes to a store (a run, a sweep's parent run) opens it with
`open_client`: it fails fast with a `TrackingError` naming the URI when the store cannot
be reached or written, and it makes one SQLite file safe for many processes at once (see
`open_client`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact_uri, split_credentials
from nnx.errors import TrackingError, first_line
from nnx.tracking.credentials import PASSWORD, USERNAME, mlflow_credentials, server_uri

__all__ = ["resolve_uri", "sqlite_path", "missing_sqlite_store", "check_reachable", "open_client",
           "open_store", "refused", "forbidden"]

_HEALTH_TIMEOUT_S = 5
#: MLflow retries an unreachable server for minutes by default; a few quick retries keep a
#: short network blip harmless without hiding a server that is down. A user's own setting wins.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def _quick_http_retries() -> None:
    """Set MLflow's HTTP retry variables, unless set, when a store is first opened (MLflow
    reads them from the environment at each request; nothing is changed at import)."""
    for name, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///`` path absolute (and its folder exist); keep others.

    A folder that cannot be made is left for `open_client` to report.
    """
    path = sqlite_path(uri)
    if path is None or path.is_absolute():
        return uri
    path = path.resolve()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def missing_sqlite_store(uri: str) -> bool:
    """True for a ``sqlite:///`` URI whose file does not exist: nothing was logged there yet."""
    path = sqlite_path(uri)
    return path is not None and not path.is_file()


def _check_server(uri: str) -> None:
    """Fail in seconds, naming the URI, when an ``http(s)://`` tracking server does not answer.

    ``/health`` needs no login, also on an authenticated server: it is asked without credentials.
    """
    try:
        with urllib.request.urlopen(f"{server_uri(uri).rstrip('/')}/health", timeout=_HEALTH_TIMEOUT_S):
            pass
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingError(
            f"Cannot reach the MLflow tracking server at tracking.uri={redact_uri(uri)} ({reason}). "
            "Start it (`mlflow server --host 127.0.0.1 --port 5000`) or use a local store: "
            "tracking.uri=sqlite:///outputs/mlflow.db"
        ) from None


def _check_writable(path: Path, uri: str) -> None:
    # Never open() the database file itself: closing any descriptor of a SQLite file drops
    # every POSIX lock this process holds on it, under the feet of MLflow's open connections
    # (SQLite then reports "disk I/O error" or, worse, corrupts the store).
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    except OSError as error:
        raise TrackingError(
            f"Cannot write the MLflow store tracking.uri={redact_uri(uri)} ({error.strerror}: "
            f"{error.filename}). Choose a writable path, e.g. tracking.uri=sqlite:///outputs/mlflow.db"
        ) from None


def _check_sqlite_store(path: Path, uri: str) -> None:
    """An existing file must be an MLflow SQLite store (or empty); anything else is refused
    before MLflow touches it, since opening a store migrates it (it writes its tables).

    Read through SQLite itself, read-only: SQLite keeps its own POSIX locks across the
    connections of one process (see `_check_writable`).
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    fix = "Point tracking.uri at an MLflow store, or at a new file: tracking.uri=sqlite:///outputs/mlflow.db"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as error:
        raise TrackingError(
            f"tracking.uri={uri} names {path}, which is not a SQLite database ({error}). {fix}"
        ) from None
    if tables and not {"experiments", "runs"} <= tables:
        raise TrackingError(
            f"tracking.uri={uri} names {path}, a SQLite database that is not an MLflow store "
            f"(its tables: {', '.join(sorted(tables)[:5])}); nnx leaves it untouched. {fix}"
        )


def check_reachable(uri: str) -> None:
    """The checks of `open_client` that need no MLflow: a server answers, a file is writable.

    Milliseconds: a run makes them before loading its data, while its writer process
    (`nnx.tracking.writer`) opens the store itself.
    """
    uri = resolve_uri(uri)
    path = sqlite_path(uri)
    if uri.startswith(("http://", "https://")):
        _quick_http_retries()
        _check_server(uri)
    elif path is not None:
        _check_writable(path, uri)
        _check_sqlite_store(path, uri)


def open_client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``, checked before any work depends on it.

    - ``http(s)://``: the server must answer ``/health`` within seconds.
    - ``sqlite:///``: the file must be writable. MLflow creates a new store's tables without a
      lock, so processes starting together (parallel sweeps, 4 trainings in a shell) race
      and fail with "database is locked"; the store is opened here under an exclusive file
      lock (``<db>.lock``) and switched to WAL journaling, in which readers never block the
      writer. MLflow's own sessions wait up to 20 s for the write lock (``busy_timeout``).
    - anything else (``postgresql://``...): the first query must succeed.

    Credentials in an ``http(s)://user:password@host`` URI are taken off it and given to
    MLflow in its variables (`nnx.tracking.credentials`); the client only works while they
    are set, so callers use it inside ``mlflow_credentials(uri)`` (an `MlflowTracker` holds
    them from `connect` to `finish`). A server that refuses them fails here, naming
    ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``. No error shows a password.
    """
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store-migration chatter
    _quick_http_retries()
    uri = resolve_uri(uri)
    path = sqlite_path(uri)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    if path is None:
        with mlflow_credentials(uri):
            return _first_query(MlflowClient(tracking_uri=server_uri(uri)), uri)
    _check_writable(path, uri)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _check_sqlite_store(path, uri)  # under the lock: another process may be creating it
            client = _first_query(MlflowClient(tracking_uri=uri), uri)
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
                db.execute("PRAGMA journal_mode=WAL")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return client


def _first_query(client: Any, uri: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        client.search_experiments(max_results=1)
    except MlflowException as error:
        if error.error_code == "UNAUTHENTICATED":
            raise TrackingError(refused(uri)) from None
        raise TrackingError(_cannot_use(uri, error)) from error
    except (OSError, ImportError) as error:
        raise TrackingError(_cannot_use(uri, error)) from error
    return client


def _cannot_use(uri: str, error: BaseException) -> str:
    return redact_uri(f"Cannot use the MLflow store tracking.uri={uri}: {first_line(error)}")


def _user(uri: str) -> str | None:
    """The user MLflow logs in as: the one in ``uri`` (``user:password@``), else its variable."""
    credentials = split_credentials(uri)[1]
    return credentials[0] if credentials else os.environ.get(USERNAME)


def refused(uri: str) -> str:
    """The message for a server that does not accept the credentials given (or none)."""
    user = _user(uri)
    given = f"the password of user '{user}'" if user else "no credentials"
    return (
        f"The MLflow tracking server at tracking.uri={redact_uri(uri)} refused {given} (401). "
        f"Set {USERNAME} and {PASSWORD}, or give them in tracking.uri before the host (user:password@)."
    )


def forbidden(uri: str, experiment: str, action: str) -> str:
    """The message for a user the server does not allow to ``action``."""
    user = _user(uri) or "(anonymous)"
    return (
        f"User '{user}' may not {action} experiment '{experiment}' at tracking.uri="
        f"{redact_uri(uri)} (403: permission denied). Ask the server's admin for EDIT "
        "permission on it, or log to another experiment: tracking.experiment=NAME"
    )


def open_store(cfg: TrackingConfig) -> tuple[Any, Any]:
    """An MLflow client on ``cfg.uri`` and the experiment ``cfg.experiment`` (None if absent);
    use the client inside ``mlflow_credentials(cfg.uri)``."""
    client = open_client(cfg.uri)
    with mlflow_credentials(cfg.uri):
        return client, client.get_experiment_by_name(cfg.experiment)
