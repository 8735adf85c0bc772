"""Checks that config schemas run in ``__post_init__``, and the names they accept.

Plugins use them too (``check(self.lr > 0, "lr", self.lr, "a number > 0")``), so every
bad value reads the same way: the dotted key, the value, what was expected.
"""

from __future__ import annotations

import typing

from nnx.errors import ConfigChoiceError, ConfigValueError

__all__ = [
    "check", "check_choice", "check_metric", "ACTIVATION_NAMES", "INIT_NAMES",
    "ACCELERATORS", "PRECISIONS", "STRATEGIES", "URI_SCHEMES", "SPLITS",
]

#: Names plugins accept for ``activation`` and ``init``; `nnx.models.layers` maps them to torch.
ACTIVATION_NAMES = ("sigmoid", "relu", "tanh", "leaky_relu", "softmax", "step", "identity")
INIT_NAMES = ("default", "he_uniform", "he_normal", "xavier", "xavier_normal")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16", "bf16-mixed", "bf16", "16-true",
              "bf16-true")
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook",
              "ddp_find_unused_parameters_true", "fsdp", "deepspeed", "single_device")
URI_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file", "databricks")
SPLITS = ("train", "val", "test")


def check(ok: bool, key: str, value: object, expected: str) -> None:
    """Raise `ConfigValueError` for ``key`` unless ``ok``; for use in ``__post_init__``."""
    if not ok:
        raise ConfigValueError(key, value, expected)


def check_metric(key: str, value: str) -> None:
    """A metric key must read ``split/name`` with split train, val or test (``val/loss``)."""
    split, _, name = str(value).partition("/")
    check(split in SPLITS and name.isidentifier(), key, value,
          "a metric key 'train|val|test/<name>' such as val/loss or val/acc")


def check_choice(key: str, value: str, choices: typing.Iterable[str]) -> None:
    """Raise an error naming the choices (and the closest one) unless ``value`` is among them."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigChoiceError(key, value, choices)


