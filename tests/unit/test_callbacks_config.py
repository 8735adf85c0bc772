"""The callbacks group: selection, validation, moved keys, modes and the fused-path decision."""

from __future__ import annotations

import re

import pytest
import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, Timer

from nnx.config import validate
from nnx.config.schemas import moved_key
from nnx.errors import ConfigKeyError, ConfigValueError, NnxError, UnknownNameError
from nnx.training.callback_plugins import resolve_mode
from nnx.training.hooks import EVAL_HOOKS, per_batch_hooks
from nnx.training.interrupts import GracefulStop


def test_the_group_selects_several_each_under_its_name(make_cfg) -> None:
    recipe = validate(make_cfg("callbacks=[early_stopping,checkpoint]",
                               "callbacks.checkpoint.monitor=val/acc", tracking=False))
    assert [c.plugin.name for c in recipe.callbacks] == ["early_stopping", "checkpoint"]
    assert recipe.callbacks[1].config.monitor == "val/acc" and recipe.callbacks[0].config.patience == 5
    assert validate(make_cfg(tracking=False)).callbacks == ()


def test_a_key_alone_selects_its_callback(make_cfg) -> None:
    recipe = validate(make_cfg("+callbacks.early_stopping.patience=2", tracking=False))
    (only,) = recipe.callbacks
    assert only.plugin.name == "early_stopping" and only.config.patience == 2


def test_errors_name_the_callbacks_key(make_cfg) -> None:
    with pytest.raises(ConfigValueError, match=re.escape("'callbacks.early_stopping.mode': 'maximum'")):
        validate(make_cfg("callbacks=[early_stopping]", "callbacks.early_stopping.mode=maximum",
                          tracking=False))
    with pytest.raises(ConfigKeyError, match="Did you mean 'patience'"):
        validate(make_cfg("+callbacks.early_stopping.patiense=2", tracking=False))
    with pytest.raises(UnknownNameError, match="Did you mean 'grad_norm'"):
        validate(make_cfg("+callbacks.gradnorm.norm_type=2", tracking=False))


@pytest.mark.parametrize(("key", "new"), [
    ("trainer.early_stopping.enabled", "use callbacks=[early_stopping]"),
    ("trainer.early_stopping.patience", "use callbacks.early_stopping.patience"),
    ("+trainer.checkpoint.enabled", "use callbacks=[checkpoint]"),
    ("trainer.checkpoint.save_last_every_s", "use trainer.save_last_every_s"),
    ("trainer.checkpoint", "use callbacks=[checkpoint]"),
])
def test_old_trainer_keys_name_their_new_place(key: str, new: str) -> None:
    error = moved_key(key)
    assert isinstance(error, NnxError) and new in str(error) and "\n" not in str(error)


def test_other_keys_have_not_moved() -> None:
    assert moved_key("trainer.max_epochs") is None and moved_key("model.checkpoint") is None


def test_a_saved_config_with_old_keys_fails_in_one_line(make_cfg) -> None:
    cfg = make_cfg("+trainer.early_stopping.enabled=true", tracking=False)  # as a config saved before
    message = "'trainer.early_stopping' moved: use callbacks=[early_stopping]"
    with pytest.raises(NnxError, match=re.escape(message)):
        validate(cfg)


def test_mode_follows_the_metric_unless_given() -> None:
    assert resolve_mode("val/acc", "auto") == "max" and resolve_mode("val/loss", "auto") == "min"
    assert resolve_mode("val/acc", "min") == "min"


class _PerStep(pl.Callback):
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        pass


class _PerValBatch(pl.Callback):
    def on_validation_batch_end(self, *args) -> None:
        pass


def test_only_callbacks_with_per_batch_hooks_leave_the_fast_path(tmp_path) -> None:
    assert per_batch_hooks([_PerStep()]) == {"on_before_optimizer_step"}
    assert per_batch_hooks([_PerValBatch()]) == set() and per_batch_hooks([_PerValBatch()], EVAL_HOOKS)
    quiet = [EarlyStopping(monitor="val/loss"), ModelCheckpoint(dirpath=tmp_path, monitor="val/loss"),
             Timer(duration="00:00:01:00", interval="epoch"), GracefulStop()]
    assert per_batch_hooks(quiet) == set() and per_batch_hooks(quiet, EVAL_HOOKS) == set()
    assert per_batch_hooks([ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=10)])
    assert per_batch_hooks([Timer(duration="00:00:01:00", interval="step")])
