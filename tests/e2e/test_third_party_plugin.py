"""Plugins from another installed package, with no YAML of their own, are selectable like
built-ins: by an override and in a sweep over names (their options are built from their
dataclasses, tests/unit/test_config_options.py). The package ``theirs`` adds a model, a loss,
a metric and a callback; each kind is one section of its module and one line of its entry
points.

A fresh `nnx-plugins` and `nnx` process finds ``theirs`` on PYTHONPATH
(`test_selected_and_configured_without_yaml`); the other tests run the entry points in this
process with ``theirs`` on its path (`theirs_here`), which saves a process (and for a training
a Lightning import) per command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nnx import registry
from tests.cli_inprocess import run_cli

_PLUGIN = '''
"""A third party's model (a linear layer of configurable width), loss, metric and callback."""
from dataclasses import dataclass, field
from typing import ClassVar

from nnx.config import check
from nnx.registry import register_callback, register_loss, register_metric, register_model


@dataclass
class TinyConfig:
    width: int = field(default=4, metadata={"help": "hidden units"})

    def __post_init__(self) -> None:
        check(self.width >= 1, "width", self.width, "an integer >= 1")


@register_model(TinyConfig)
def tiny(cfg: TinyConfig, spec):
    """One hidden layer of `width` units."""
    import math

    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(spec.input_shape), cfg.width),
                         nn.ReLU(), nn.Linear(cfg.width, spec.num_outputs))


@dataclass
class HingeConfig:
    margin: float = field(default=1.0, metadata={"help": "how far past the boundary costs nothing"})

    def __post_init__(self) -> None:
        check(self.margin > 0, "margin", self.margin, "a number > 0")


@register_loss(HingeConfig)
def hinge(cfg: HingeConfig, spec):
    """Hinge loss of one logit against a binary target."""
    import torch

    def loss(out, y):
        sign = 2 * y.to(out.dtype).view_as(out) - 1
        return torch.relu(cfg.margin - sign * out).mean()

    return loss


@dataclass
class ErrorConfig:
    direction: ClassVar[str] = "min"
    reads: ClassVar[str] = "labels"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass")


@register_metric(ErrorConfig)
def error(cfg: ErrorConfig, spec):
    """Error rate: the share of samples whose predicted class is wrong."""
    return lambda labels, target: (labels != target).float().mean()


@dataclass
class StepNoteConfig:
    label: str = field(default="steps", metadata={"help": "what the line at the end of training says"})

    def __post_init__(self) -> None:
        check(bool(self.label), "label", self.label, "a non-empty word")


@register_callback(StepNoteConfig)
def step_note(cfg: StepNoteConfig, ctx):
    """Count optimizer steps and batches; print them when training ends."""
    import pytorch_lightning as pl

    class StepNote(pl.Callback):
        steps = batches = 0

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            self.steps += 1

        def on_train_batch_end(self, *args):
            self.batches += 1

        def on_train_end(self, trainer, pl_module):
            print(f"{cfg.label}: {self.steps} optimizer steps, {self.batches} batches, "
                  f"global step {trainer.global_step}")

    return StepNote()
'''
#: The entry points of ``theirs``, by group: one line per plugin.
_ENTRY_POINTS = {"nnx.models": "tiny = theirs:tiny", "nnx.losses": "hinge = theirs:hinge",
                 "nnx.metrics": "error = theirs:error", "nnx.callbacks": "step_note = theirs:step_note"}


@pytest.fixture
def theirs(tmp_path: Path) -> dict[str, str]:
    """An installed distribution ``theirs`` (a dist-info on PYTHONPATH) registering model
    ``tiny``, loss ``hinge``, metric ``error`` and callback ``step_note``."""
    site = tmp_path / "site"
    (site / "theirs").mkdir(parents=True)
    (site / "theirs" / "__init__.py").write_text(_PLUGIN)
    info = site / "theirs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: theirs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(f"[{group}]\n{line}\n" for group, line in
                                                   _ENTRY_POINTS.items()))
    return {"PYTHONPATH": str(site)}


@pytest.fixture
def theirs_here(theirs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``theirs`` installed in this process for one test: its folder on ``sys.path``, the
    registry's entry points read again; afterwards nothing of it is left (later tests list
    the built-in plugins only)."""
    monkeypatch.syspath_prepend(theirs["PYTHONPATH"])
    monkeypatch.setattr(registry, "_registered", {k: dict(v) for k, v in registry._registered.items()})
    registry._entry_points.cache_clear()
    yield
    sys.modules.pop("theirs", None)
    registry._entry_points.cache_clear()  # read again once sys.path is back


_FAST = ["data=logic_xor", "trainer.max_epochs=1", "tracking=none", "trainer.progress=false"]


def test_selected_and_configured_without_yaml(run_nnx, theirs) -> None:
    listed = run_nnx("tiny", script="nnx-plugins", env=theirs)
    assert "model plugin 'tiny'" in listed.stdout and "[theirs]" not in listed.stderr
    assert "width: int = 4  # hidden units" in listed.stdout
    bad = run_nnx("model=tiny", "model.width=0", *_FAST, env=theirs)
    assert bad.returncode == 2 and "Bad value for 'model.width': 0" in bad.stderr


def _listed(*argv: str, capsys: pytest.CaptureFixture) -> str:
    """`nnx-plugins *argv` in this process: what it prints."""
    from nnx.cli.plugins import main

    main(list(argv))
    return capsys.readouterr().out


def test_their_loss_and_metric_are_listed_and_validated(theirs_here, monkeypatch, capsys, tmp_path) -> None:
    listed = _listed("--kind", "loss", capsys=capsys) + _listed("--kind", "metrics", capsys=capsys)
    assert "hinge" in listed and "error" in listed and "[theirs]" in listed
    bad = run_cli(["loss=hinge", "loss.margin=0", *_FAST], monkeypatch, capsys, tmp_path)
    assert bad.code == 2 and "Bad value for 'loss.margin': 0" in bad.err
    unknown = run_cli(["metrics=[acc,error]", "optimized_metric=val/eror", *_FAST], monkeypatch, capsys,
                      tmp_path)
    assert unknown.code == 2
    assert "Unknown metric 'val/eror' in 'optimized_metric'. Did you mean 'val/error'?" in unknown.err


def test_their_callback_is_listed_and_validated(theirs_here, monkeypatch, capsys, tmp_path) -> None:
    listed = _listed("--kind", "callbacks", capsys=capsys)
    assert "step_note" in listed and "[theirs]" in listed
    bad = run_cli(["callbacks=[step_note]", "callbacks.step_note.label=", *_FAST], monkeypatch, capsys,
                  tmp_path)
    assert bad.code == 2 and "Bad value for 'callbacks.step_note.label'" in bad.err


def test_their_model_loss_metric_and_callback_train_configured(theirs_here, monkeypatch, capsys,
                                                               tmp_path) -> None:
    """All four of theirs in one run, each configured: the model's layer table is logged, the
    metric is a test metric with its baseline, and the callback gets every step."""
    done = run_cli(["model=tiny", "model.width=3", "loss=hinge", "loss.margin=0.5", "metrics=[acc,error]",
                    "optimized_metric=val/error", "callbacks=[step_note,early_stopping]",
                    "callbacks.step_note.label=counted", "trainer.max_epochs=3", "data.batch_size=1",
                    *_FAST[:1], *_FAST[2:]], monkeypatch, capsys, tmp_path)
    assert done.code == 0, done.text
    assert registry.get_plugin("model", "tiny").source == "theirs:tiny"  # theirs, by its entry point
    assert "Linear" in done.text  # its layer table was logged
    assert "test/error" in done.out and "test/baseline_error" in done.out
    assert "counted: 12 optimizer steps, 12 batches, global step 12" in done.out  # 4 rows, 3 epochs


def test_a_sweep_over_names_reaches_it(theirs_here, monkeypatch, capsys, tmp_path) -> None:
    grid = run_cli(["-m", "model=mlp,tiny", "loss=hinge", "metrics=[auto,error]",
                    "callbacks=[step_note],[early_stopping]", *_FAST], monkeypatch, capsys, tmp_path)
    assert grid.code == 0, grid.text
    assert "4 trials, 4 finished" in grid.out and "0 failed" in grid.out
    assert grid.out.count("steps: ") == 2
