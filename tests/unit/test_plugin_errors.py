"""A bug in a plugin stays visible: ``NNX_FULL_ERROR=1`` shows the error underneath.

Without it a user's config error is one line; with it, an error nnx re-raised as a config
error still carries its cause, so a plugin author sees the bug, not only nnx's summary.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import pytest

from nnx import registry
from nnx.errors import ConfigValueError
from nnx.registry import register_model
from tests.cli_inprocess import run_cli


@dataclass
class _Width:
    width: int = 4


@dataclass
class _UnsupportedField:
    """A plugin author's mistake: OmegaConf cannot type-check a ``set`` field."""

    seen: set = field(default_factory=set)


@pytest.fixture(autouse=True)
def broken_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three buggy model plugins, registered for one test only."""
    monkeypatch.setattr(registry, "_registered", {k: dict(v) for k, v in registry._registered.items()})

    @register_model(_Width, name="divides_by_zero")
    def divides_by_zero(cfg: _Width, spec: object) -> None:
        """Its builder has a bug."""
        return cfg.width // 0

    @register_model(_Width, name="bad_forward")
    def bad_forward(cfg: _Width, spec: object) -> object:
        """Builds, but its forward has a bug (nnx reports it as a model/data mismatch)."""
        import torch

        class Broken(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.layer = torch.nn.Linear(1, 1)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x[:, [999]]  # IndexError

        return Broken()

    @register_model(_UnsupportedField, name="bad_schema")
    def bad_schema(cfg: _UnsupportedField, spec: object) -> None:
        """Its config dataclass cannot be validated."""


def _args(model: str, tmp_path) -> list[str]:
    return ["~model", f"+model.name={model}", "data=iris", "tracking=none",
            f"hydra.run.dir={tmp_path / 'run'}", "trainer.progress=false"]


def _full_error(model: str, monkeypatch, capsys, tmp_path) -> BaseException:
    monkeypatch.setenv("NNX_FULL_ERROR", "1")
    with pytest.raises(BaseException) as raised:
        run_cli(_args(model, tmp_path), monkeypatch, capsys, tmp_path)
    return raised.value


def _chain(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def test_a_builder_bug_shows_its_own_traceback(monkeypatch, capsys, tmp_path) -> None:
    error = _full_error("divides_by_zero", monkeypatch, capsys, tmp_path)
    assert isinstance(error, ZeroDivisionError)
    assert "cfg.width // 0" in _chain(error)


def test_a_forward_bug_reported_as_config_error_keeps_its_cause(monkeypatch, capsys, tmp_path) -> None:
    error = _full_error("bad_forward", monkeypatch, capsys, tmp_path)
    assert isinstance(error, ConfigValueError) and isinstance(error.__cause__, IndexError)
    assert "x[:, [999]]" in _chain(error)


def test_a_schema_bug_reported_as_config_error_keeps_its_cause(monkeypatch, capsys, tmp_path) -> None:
    error = _full_error("bad_schema", monkeypatch, capsys, tmp_path)
    assert isinstance(error, ConfigValueError) and error.__cause__ is not None
    assert "Unexpected type annotation: set" in _chain(error)

    monkeypatch.delenv("NNX_FULL_ERROR")  # without it: nnx's one line, no traceback
    outcome = run_cli(_args("bad_schema", tmp_path), monkeypatch, capsys, tmp_path)
    assert outcome.code != 0 and "Traceback" not in outcome.text
    assert "nnx: error: " in outcome.err and "model.seen" in outcome.err
