"""Credentials never leave the user's hands: every URI nnx prints or records is redacted.

``postgresql://user:s3cret@host/db`` is shown and stored as ``postgresql://user:***@host/db``;
query parameters that carry a secret (``?password=...``, ``?token=...``) likewise. The
values of MLflow's credential variables (``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_TOKEN``)
are masked wherever they appear. Every layer that prints or records uses these helpers:
params, tags, config artifacts, the run record, Hydra's saved config (`RedactHydraFiles`),
the job log and console (`RedactingFilter`), and error messages.

Torch-free and MLflow-free.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

__all__ = [
    "MASK", "redact", "redact_uri", "redact_tree", "has_credentials",
    "redact_file", "RedactingFilter", "RedactHydraFiles", "SECRET_VARIABLES",
]

MASK = "***"
#: Variables whose values are secrets wherever they show up in text.
SECRET_VARIABLES = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
# scheme://user:password@ -- the password runs to the first '@' (as SQLAlchemy reads it);
# also as Hydra escapes it in a sweep's overrides: scheme\://user\:password@
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*\\?://[^\s:/@'\"\\]*\\?:)"
                       r"(?P<secret>[^\s@'\"]+)@")
# ?password=... &token=... (libpq and many stores take credentials as query parameters)
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|token|secret|api_key|access_key)[^=&\s]*=)"
                    r"(?P<secret>[^&\s'\"]+)", re.IGNORECASE)
_MIN_SECRET = 4  # shorter values would mask unrelated text


def _known_secrets() -> list[str]:
    values = [os.environ.get(name) for name in SECRET_VARIABLES]
    return sorted({v for v in values if v and len(v) >= _MIN_SECRET and v != MASK}, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every credential in a URI, and every known secret value, masked."""
    if not isinstance(text, str) or not text:
        return text
    text = _USERINFO.sub(lambda m: m["secret"] == MASK and m[0] or f"{m['head']}{MASK}@", text)
    text = _QUERY.sub(lambda m: f"{m['head']}{MASK}", text)
    for secret in _known_secrets():
        text = text.replace(secret, MASK)
    return text


def redact_uri(uri: str) -> str:
    """``scheme://user:***@host/...``: the URI as nnx shows and records it."""
    return redact(uri)


def has_credentials(uri: str) -> bool:
    """Whether ``uri`` carries a password or secret query parameter (masked or not)."""
    return bool(_USERINFO.search(uri) or _QUERY.search(uri))


def redact_tree(tree: Any) -> Any:
    """A copy of a nested dict/list config with every string leaf redacted."""
    if isinstance(tree, dict):
        return {key: redact_tree(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(redact_tree(value) for value in tree)
    return redact(tree) if isinstance(tree, str) else tree


def redact_file(path: Path) -> bool:
    """Rewrite a text file with its credentials masked (atomically); True if it changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    clean = redact(text)
    if clean == text:
        return False
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(clean, encoding="utf-8")
    os.replace(partial, path)
    return True


class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in every record (console and job log).

    Used by ``conf/hydra/default.yaml`` for Hydra's own log lines (the launcher lists each
    job's overrides) and for nnx's and the libraries' records.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _redact_hydra_files(folder: Path) -> None:
    for path in (folder / "config.yaml", folder / "hydra.yaml", folder / "overrides.yaml"):
        if path.is_file():
            redact_file(path)


try:
    from hydra.experimental.callback import Callback as _Callback
except ImportError:  # pragma: no cover  (Hydra is a dependency; keep this module importable)
    _Callback = object  # type: ignore[assignment,misc]


class RedactHydraFiles(_Callback):  # type: ignore[misc,valid-type]
    """A Hydra callback: mask credentials in what Hydra saved into the run dir.

    Hydra writes ``.hydra/{config,hydra,overrides}.yaml`` of a job, and ``multirun.yaml``
    (Optuna: ``optimization_results.yaml``) of a sweep, verbatim; this rewrites them as soon
    as the job starts (before any training) and when the sweep ends.
    """

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        from hydra.types import RunMode

        if config.hydra.output_subdir is not None:
            _redact_hydra_files(Path(str(config.hydra.runtime.output_dir)) / str(config.hydra.output_subdir))
        if config.hydra.mode == RunMode.MULTIRUN:
            self._redact_sweep_dir(config)

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self._redact_sweep_dir(config)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        self._redact_sweep_dir(config)

    @staticmethod
    def _redact_sweep_dir(config: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        for name in ("multirun.yaml", "optimization_results.yaml"):
            if (folder / name).is_file():
                redact_file(folder / name)
