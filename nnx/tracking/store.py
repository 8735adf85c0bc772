"""A tracking store: its URI parsed once into a value that knows its forms.

`Store.of` turns ``tracking.uri`` into a `Store`: its kind (a SQLite file, an ``http(s)://``
server, a database such as ``postgresql://``), the full URI (a relative SQLite path made
absolute), the redacted form nnx prints and records, the credentials of a server and how
to open a checked MLflow client on it. Everything that touches a store (the tracker and
its writer process, resume, rerun, sweeps, the CLI) takes a `Store`; nothing re-parses the
string. A `Store` prints redacted: ``str``, ``repr`` and f-strings never show a password.

MLflow sends a server's user and password from ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` at every request, never from the URL. The writer process sets
them once for its life (`nnx.tracking.writer`); MLflow work in any other process runs
inside `Store.session`, which sets them for the block only, so processes started meanwhile
(a sweep's workers) do not inherit them. Credentials set by the user in those variables
(or ``~/.mlflow/credentials``) are used as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from nnx.config.environment import scoped_env
from nnx.config.secrets import redact
from nnx.errors import TrackingError, first_line

__all__ = ["Store", "USERNAME", "PASSWORD"]

USERNAME = "MLFLOW_TRACKING_USERNAME"
PASSWORD = "MLFLOW_TRACKING_PASSWORD"
_SQLITE = "sqlite:///"
_HEALTH_TIMEOUT_S = 5
#: MLflow retries an unreachable server for minutes by default; a few quick retries keep a
#: short network blip harmless without hiding a server that is down. A user's own setting wins.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
_LOCAL_FIX = "tracking.uri=sqlite:///outputs/mlflow.db"


@dataclasses.dataclass(frozen=True)
class Store:
    """A tracking store. ``uri`` is complete (credentials included): give it only to MLflow
    or to a process that opens the store; show `shown`."""

    uri: str = dataclasses.field(repr=False)
    kind: Literal["sqlite", "server", "database"]

    @classmethod
    def of(cls, uri: str) -> Store:
        """Parse ``uri``; a relative ``sqlite:///`` path becomes absolute (its folder is made
        when it can be; a folder that cannot be made is reported by `check`)."""
        if uri.startswith(_SQLITE):
            path = Path(uri[len(_SQLITE):])
            if not path.is_absolute():
                path = path.resolve()
                with contextlib.suppress(OSError):
                    path.parent.mkdir(parents=True, exist_ok=True)
            return cls(f"{_SQLITE}{path}", "sqlite")
        return cls(uri, "server" if uri.startswith(("http://", "https://")) else "database")

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"Store({self.shown!r})"

    # -- its forms ---------------------------------------------------------------------
    @property
    def shown(self) -> str:
        """The URI as nnx prints and records it: ``scheme://user:***@host``."""
        return redact(self.uri)

    @property
    def path(self) -> Path | None:
        """The database file of a SQLite store."""
        return Path(self.uri[len(_SQLITE):]) if self.kind == "sqlite" else None

    @property
    def mlflow_uri(self) -> str:
        """The URI MLflow gets: a server's without its credentials (they travel in MLflow's
        variables); others as they are (``postgresql://user:pw@host/db`` goes to SQLAlchemy)."""
        return self._split()[0]

    @property
    def credentials(self) -> dict[str, str]:
        """MLflow's credential variables for a server whose URI carries ``user:password@``."""
        found = self._split()[1]
        return {USERNAME: found[0], PASSWORD: found[1]} if found else {}

    def _split(self) -> tuple[str, tuple[str, str] | None]:
        parts = urlsplit(self.uri)
        if self.kind != "server" or "@" not in parts.netloc:
            return self.uri, None
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))

    @property
    def user(self) -> str | None:
        """The user MLflow logs in as: the one in the URI, else its variable."""
        return self.credentials.get(USERNAME) or os.environ.get(USERNAME)

    @property
    def dashboard(self) -> str:
        """Where a browser sees the runs: the server itself, else a local `mlflow ui`."""
        return self.mlflow_uri.rstrip("/") if self.kind == "server" else "http://127.0.0.1:5000"

    def near(self) -> str:
        """`shown`, with a SQLite path relative to the working directory when it is below it."""
        path = self.path
        if path is None or not path.is_relative_to(Path.cwd()):
            return self.shown
        return f"{_SQLITE}{path.relative_to(Path.cwd())}"

    def exists(self) -> bool:
        """False for a SQLite store whose file does not exist: nothing was logged there yet."""
        return self.kind != "sqlite" or self.path.is_file()

    def artifact_location(self) -> str | None:
        """Where a new experiment keeps its artifacts: beside a SQLite file; else the store's
        choice."""
        return (self.path.parent / "mlartifacts").as_uri() if self.kind == "sqlite" else None

    # -- opening it --------------------------------------------------------------------
    def check(self) -> None:
        """The checks of `open` that need no MLflow (milliseconds): a server answers, a file
        is writable and an MLflow store. A run makes them before loading its data, while its
        writer process opens the store."""
        if self.kind == "server":
            _quick_http_retries()
            self._check_server()
        elif self.kind == "sqlite":
            self._check_writable()
            self._check_sqlite_store()

    def open(self) -> Any:
        """An ``MlflowClient`` on this store, checked before any work depends on it.

        - server: it must answer ``/health`` within seconds, and accept the credentials;
        - SQLite: the file must be writable. MLflow creates a new store's tables without a
          lock, so processes starting together (parallel sweeps, 4 trainings in a shell) race
          and fail with "database is locked"; the store is opened here under an exclusive
          file lock (``<db>.lock``) and switched to WAL journaling, in which readers never
          block the writer. MLflow's own sessions wait up to 20 s for the write lock;
        - a database: the first query must succeed.

        A server's client works only while its credentials are set: in the writer process,
        or within `session`. No error shows a password.
        """
        import logging

        from mlflow import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store-migration chatter
        _quick_http_retries()
        if self.kind == "server":
            self._check_server()
        if self.kind != "sqlite":
            with scoped_env(self.credentials):
                return self._first_query(MlflowClient(tracking_uri=self.mlflow_uri))
        self._check_writable()
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._check_sqlite_store()  # under the lock: another process may be creating it
                client = self._first_query(MlflowClient(tracking_uri=self.uri))
                with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as db:
                    db.execute("PRAGMA journal_mode=WAL")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return client

    @contextlib.contextmanager
    def session(self, checked: bool = True) -> Iterator[Any]:
        """A client for MLflow work in this process, the server's credentials set for the
        block only: checked (`open`), or, to only read, as it is."""
        if checked:
            client = self.open()
        else:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=self.mlflow_uri)
        with scoped_env(self.credentials):
            yield client

    # -- what goes wrong, in one line ---------------------------------------------------
    def refused(self) -> str:
        """The message for a server that does not accept the credentials given (or none)."""
        given = f"the password of user '{self.user}'" if self.user else "no credentials"
        return (
            f"The MLflow tracking server at tracking.uri={self.shown} refused {given} (401). "
            f"Set {USERNAME} and {PASSWORD}, or give them in tracking.uri before the host "
            "(user:password@)."
        )

    def forbidden(self, experiment: str, action: str) -> str:
        """The message for a user the server does not allow to ``action``."""
        return (
            f"User '{self.user or '(anonymous)'}' may not {action} experiment '{experiment}' at "
            f"tracking.uri={self.shown} (403: permission denied). Ask the server's admin for "
            "EDIT permission on it, or log to another experiment: tracking.experiment=NAME"
        )

    def cannot_use(self, error: BaseException) -> str:
        return redact(f"Cannot use the MLflow store tracking.uri={self.uri}: {first_line(error)}")

    def _check_server(self) -> None:
        """Fail in seconds, naming the URI, when the server does not answer. ``/health``
        needs no login, also on an authenticated server: it is asked without credentials."""
        try:
            with urllib.request.urlopen(f"{self.dashboard}/health", timeout=_HEALTH_TIMEOUT_S):
                pass
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TrackingError(
                f"Cannot reach the MLflow tracking server at tracking.uri={self.shown} ({reason}). "
                "Start it (`mlflow server --host 127.0.0.1 --port 5000`) or use a local store: "
                f"{_LOCAL_FIX}"
            ) from None

    def _check_writable(self) -> None:
        # Never open() the database file itself: closing any descriptor of a SQLite file
        # drops every POSIX lock this process holds on it, under the feet of MLflow's open
        # connections (SQLite then reports "disk I/O error" or, worse, corrupts the store).
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = self.path if self.path.exists() else self.path.parent
            if not os.access(target, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        except OSError as error:
            raise TrackingError(
                f"Cannot write the MLflow store tracking.uri={self.shown} ({error.strerror}: "
                f"{error.filename}). Choose a writable path, e.g. {_LOCAL_FIX}"
            ) from None

    def _check_sqlite_store(self) -> None:
        """An existing file must be an MLflow SQLite store (or empty); anything else is
        refused before MLflow touches it, since opening a store migrates it (it writes its
        tables). Read through SQLite itself, read-only: SQLite keeps its own POSIX locks
        across the connections of one process (see `_check_writable`)."""
        path = self.path
        if not path.is_file() or path.stat().st_size == 0:
            return
        fix = f"Point tracking.uri at an MLflow store, or at a new file: {_LOCAL_FIX}"
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as error:
            raise TrackingError(
                f"tracking.uri={self.uri} names {path}, which is not a SQLite database ({error}). {fix}"
            ) from None
        if tables and not {"experiments", "runs"} <= tables:
            raise TrackingError(
                f"tracking.uri={self.uri} names {path}, a SQLite database that is not an MLflow "
                f"store (its tables: {', '.join(sorted(tables)[:5])}); nnx leaves it untouched. {fix}"
            )

    def _first_query(self, client: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            client.search_experiments(max_results=1)
        except MlflowException as error:
            if error.error_code == "UNAUTHENTICATED":
                raise TrackingError(self.refused()) from None
            raise TrackingError(self.cannot_use(error)) from error
        except (OSError, ImportError) as error:
            raise TrackingError(self.cannot_use(error)) from error
        return client


def _quick_http_retries() -> None:
    """Set MLflow's HTTP retry variables, unless set, when a store is first opened (MLflow
    reads them from the environment at each request; nothing is changed at import)."""
    for name, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
