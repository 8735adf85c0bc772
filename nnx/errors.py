"""Errors meant for users: each prints as one helpful message, without a traceback.

The CLI catches `NnxError`, prints `str(error)` to stderr and exits with `exit_code`;
`NNX_FULL_ERROR=1` shows the traceback instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "NnxError",
    "UnknownNameError",
    "ConfigKeyError",
    "ConfigValueError",
    "ConfigChoiceError",
    "PluginError",
    "DataError",
    "TrainingError",
    "TrackingError",
    "CheckpointError",
    "Interrupted",
    "did_you_mean",
    "first_line",
]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type's name when it has none): a library's
    error inside nnx's one-line message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class NnxError(Exception):
    """Base of every error caused by the user's input or environment, not by a bug."""

    exit_code = 2


class UnknownNameError(NnxError):
    """A name (plugin, option, activation...) that is not among the known ones."""

    def __init__(self, what: str, name: str, choices: Iterable[str], fix: str = "") -> None:
        self.what, self.name, self.choices = what, name, sorted(choices)
        known = ", ".join(self.choices) or "(none registered)"
        message = f"Unknown {what} '{name}'.{did_you_mean(name, self.choices)} Known: {known}."
        super().__init__(message + (f" {fix}" if fix else ""))


class ConfigKeyError(NnxError):
    """A config key that the schema does not have."""

    def __init__(self, key: str, choices: Iterable[str], schema: str) -> None:
        self.key, self.choices, self.schema = key, sorted(choices), schema
        leaf = key.rsplit(".", 1)[-1]
        super().__init__(
            f"Unknown config key '{key}' (not a field of {schema}).{did_you_mean(leaf, self.choices)}"
            f" Fields: {', '.join(self.choices)}."
        )

    def at(self, prefix: str) -> ConfigKeyError:
        """The same error with the key's dotted path from the config root."""
        key = f"{prefix}.{self.key}" if prefix else self.key
        return ConfigKeyError(key, self.choices, self.schema)


class ConfigValueError(NnxError):
    """A config value of the wrong type or outside its allowed range."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key, self.value, self.expected = key, value, expected
        super().__init__(self._message())

    def _message(self) -> str:
        return f"Bad value for '{self.key}': {self.value!r}; expected {self.expected}."

    def at(self, prefix: str) -> ConfigValueError:
        """The same error with the key's dotted path from the config root."""
        moved = Exception.__new__(type(self))
        moved.__dict__.update(self.__dict__)
        moved.key = f"{prefix}.{self.key}" if prefix else self.key
        moved.args = (moved._message(),)
        return moved


class ConfigChoiceError(ConfigValueError):
    """A config value that must be one of a fixed set of names."""

    def __init__(self, key: str, value: object, choices: Iterable[str]) -> None:
        self.choices = list(choices)
        super().__init__(key, value, "one of " + ", ".join(self.choices))

    def _message(self) -> str:
        return super()._message() + did_you_mean(str(self.value), self.choices)


class PluginError(NnxError):
    """A plugin that cannot be loaded or is registered twice."""


class DataError(NnxError):
    """Data that is missing, unreadable or unsuitable for the requested run."""


class TrainingError(NnxError):
    """Training that cannot go on (for example a NaN loss)."""

    exit_code = 1


class TrackingError(NnxError):
    """A tracking store or server that cannot be reached or written; checked before training."""


class CheckpointError(NnxError):
    """A checkpoint that cannot be loaded safely: it holds more than tensors and plain values."""


class Interrupted(NnxError):
    """Training stopped by SIGINT or SIGTERM after saving its last checkpoint.

    The exit code follows the shell's convention for a signal: 128 + its number (130, 143).
    """

    def __init__(self, signum: int, message: str) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message)
