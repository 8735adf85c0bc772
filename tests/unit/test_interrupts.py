"""Stop signals only set a flag; the message and the stop happen at batch/epoch boundaries."""

from __future__ import annotations

import os
import signal

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from nnx.training.interrupts import GracefulStop

BATCHES = 8  # per epoch
# Lightning's own deprecation inside its DataLoader handling (nnx's runs silence it too).
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec")


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: list[torch.Tensor], _index: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class _Signal(pl.Callback):
    """Sends ``signum`` to this process ``times`` times when batch ``at`` starts."""

    def __init__(self, signum: int, times: int, at: int, capsys: pytest.CaptureFixture) -> None:
        self.signum, self.times, self.at, self.capsys = signum, times, at, capsys
        self.printed_by_handler: str | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, *_args: object) -> None:
        if trainer.global_step == self.at:
            self.capsys.readouterr()
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)  # the handler runs before os.kill returns
            self.printed_by_handler = "".join(self.capsys.readouterr())


def _fit(signum: int, times: int, capsys: pytest.CaptureFixture) -> tuple[pl.Trainer, GracefulStop,
                                                                           _Signal]:
    data = DataLoader(TensorDataset(torch.randn(BATCHES * 4, 2), torch.randn(BATCHES * 4, 1)),
                      batch_size=4)
    stop, sender = GracefulStop(), _Signal(signum, times, at=3, capsys=capsys)
    trainer = pl.Trainer(max_epochs=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[sender, stop])
    with stop.installed():
        try:
            trainer.fit(_Tiny(), data)
        except SystemExit:  # Lightning's answer to the KeyboardInterrupt of a second signal
            if not stop.at_once:
                raise
    return trainer, stop, sender


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_only_sets_a_flag_and_the_epoch_ends(signum, capsys) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    trainer, stop, sender = _fit(signum, 1, capsys)
    assert sender.printed_by_handler == ""  # nothing printed from inside the handler
    assert stop.signum == signum and not stop.at_once
    assert trainer.global_step == BATCHES  # the epoch that was running ended, no more
    name = signal.Signals(signum).name
    err = capsys.readouterr().err
    assert err.count(f"nnx: {name} received: stopping after this epoch (again: stop at once)") == 1
    assert {sig: signal.getsignal(sig) for sig in before} == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_second_signal_stops_after_the_current_batch(signum, capsys) -> None:
    trainer, stop, sender = _fit(signum, 2, capsys)
    assert sender.printed_by_handler == ""  # the handler raised nothing either: we got here
    assert stop.at_once and stop.cut_short == "training"
    assert trainer.global_step == 4  # batch 3 finished, the next one never started
    assert "stopping now" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # Lightning's SIG_IGN undone


def test_the_handler_never_raises_or_prints(capsys) -> None:
    stop = GracefulStop()
    for _ in range(3):
        stop._handle(signal.SIGINT, None)
    assert capsys.readouterr() == ("", "")
    assert stop.signum == signal.SIGINT and stop.received == 3


def test_a_third_signal_gets_the_handlers_from_before(capsys) -> None:
    """Two signals leave nnx's handler in place; after them Python's own Ctrl-C is back, so a
    process stuck outside the training loop can still be stopped."""
    stop = GracefulStop()
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own Ctrl-C
    try:
        with stop.installed():
            os.kill(os.getpid(), signal.SIGINT)
            assert signal.getsignal(signal.SIGINT) == stop._handle
            os.kill(os.getpid(), signal.SIGINT)
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
    assert stop.received == 2
