"""A plugin from another installed package, with no YAML of its own, is selectable like a
built-in: by an override and in a sweep over names (its option is built from its dataclass,
tests/unit/test_config_options.py). The package adds a model and a Lightning callback."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

_PLUGIN = '''
"""A third party's model: a linear layer of configurable width, then the output."""
from dataclasses import dataclass, field

from nnx.config import check
from nnx.registry import register_model


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
'''

_CALLBACK = '''

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


@pytest.fixture
def theirs(tmp_path: Path) -> dict[str, str]:
    """An installed distribution ``theirs`` (a dist-info on PYTHONPATH) registering model ``tiny``."""
    site = tmp_path / "site"
    (site / "theirs").mkdir(parents=True)
    (site / "theirs" / "__init__.py").write_text(
        _PLUGIN.replace("import register_model", "import register_callback, register_model") + _CALLBACK)
    info = site / "theirs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: theirs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nnx.models]\ntiny = theirs:tiny\n"
                                           "[nnx.callbacks]\nstep_note = theirs:step_note\n")
    return {"PYTHONPATH": str(site)}


_FAST = ["data=logic_xor", "trainer.max_epochs=1", "tracking=none", "trainer.progress=false"]


def test_selected_and_configured_without_yaml(run_nnx, theirs) -> None:
    listed = run_nnx("tiny", script="nnx-plugins", env=theirs)
    assert "model plugin 'tiny'" in listed.stdout and "[theirs]" not in listed.stderr
    assert "width: int = 4  # hidden units" in listed.stdout
    done = run_nnx("model=tiny", "model.width=3", *_FAST, env=theirs)
    assert done.returncode == 0, done.stderr
    assert "Linear" in done.stdout + done.stderr  # its layer table was logged
    bad = run_nnx("model=tiny", "model.width=0", *_FAST, env=theirs)
    assert bad.returncode == 2 and "Bad value for 'model.width': 0" in bad.stderr


def test_a_sweep_over_names_reaches_it(run_nnx, theirs) -> None:
    grid = run_nnx("-m", "model=mlp,tiny", "callbacks=[step_note],[early_stopping]", *_FAST, env=theirs)
    assert grid.returncode == 0, grid.stderr
    assert "4 trials, 4 finished" in grid.stdout and "0 failed" in grid.stdout
    assert grid.stdout.count("steps: ") == 2


def test_their_callback_is_listed_validated_and_gets_every_step(run_nnx, theirs) -> None:
    listed = run_nnx("--kind", "callbacks", script="nnx-plugins", env=theirs)
    assert "step_note" in listed.stdout and "[theirs]" in listed.stdout
    bad = run_nnx("callbacks=[step_note]", "callbacks.step_note.label=", *_FAST, env=theirs)
    assert bad.returncode == 2 and "Bad value for 'callbacks.step_note.label'" in bad.stderr
    done = run_nnx("callbacks=[step_note,early_stopping]", "callbacks.step_note.label=counted",
                   "trainer.max_epochs=3", "data.batch_size=1", *_FAST[:1], *_FAST[2:], env=theirs)
    assert done.returncode == 0, done.stderr
    assert "counted: 12 optimizer steps, 12 batches, global step 12" in done.stdout  # 4 rows, 3 epochs
