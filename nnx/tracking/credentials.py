"""A tracking server's credentials, handed to MLflow the way it reads them.

MLflow sends an ``http(s)://`` server's user and password from ``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD`` at every request (its asynchronous logging threads too),
never from the URL. `mlflow_credentials` moves those of ``http://user:pw@host`` into the
two variables for as long as a run needs them and then restores what was there before,
so processes started in between (a sweep's joblib workers, which open the store
themselves) do not inherit them. Credentials set by the user in the variables (or in
``~/.mlflow/credentials``) are used as they are. Nothing here prints or records them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from nnx.config.environment import scoped_env
from nnx.config.secrets import split_credentials

__all__ = ["USERNAME", "PASSWORD", "mlflow_credentials", "server_uri"]

USERNAME = "MLFLOW_TRACKING_USERNAME"
PASSWORD = "MLFLOW_TRACKING_PASSWORD"


def server_uri(uri: str) -> str:
    """The URI MLflow gets: ``http(s)://`` without its credentials; others unchanged
    (``postgresql://user:pw@host/db`` goes to SQLAlchemy as it is)."""
    return split_credentials(uri)[0]


@contextlib.contextmanager
def mlflow_credentials(uri: str) -> Iterator[None]:
    """MLflow's credential variables set from ``uri`` within the block (nothing to do for a
    URI without credentials); the previous values come back afterwards."""
    _, credentials = split_credentials(uri)
    if credentials is None:
        yield
        return
    with scoped_env({USERNAME: credentials[0], PASSWORD: credentials[1]}):
        yield
