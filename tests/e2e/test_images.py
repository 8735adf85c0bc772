"""Real runs on image folders written here: streamed training, nnx-predict on image files,
a pretrained backbone frozen then unfrozen, and bad image input from the command line."""

from __future__ import annotations

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import torchvision

from nnx.cli.predict import main as predict_main
from nnx.data.files import write_image_folder
from nnx.training.pipeline import run
from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.e2e


def test_streamed_folder_trains_and_predicts_image_files_by_class_name(make_cfg, tmp_path,
                                                                       capsys) -> None:
    root = write_image_folder(tmp_path / "images", 12, sizes=(12, 16))
    cfg = make_cfg("data=image_folder", f"data.path={root}", "data.image_size=[12]",
                   "data.cache=none", "data.workers=2", "data.augment=[horizontal_flip]",
                   "model=cnn", "model.channels=[8]", "model.dense=[16]", "trainer.max_epochs=2")
    metrics, objects = run(cfg)
    assert "test/acc" in metrics and objects["splits"].spec.class_names == ("cat", "dog", "fox")
    run_dir = objects["recipe"].run.output_dir
    pd.DataFrame({"path": ["fox/00000.png", "cat/00003.jpg"]}).to_csv(root / "some.csv", index=False)
    for source, rows in ((root, 36), (root / "dog" / "00001.png", 1), (root / "some.csv", 2)):
        predict_main([run_dir, "--input", str(source), "--output", str(tmp_path / "p.csv")])
        table = pd.read_csv(tmp_path / "p.csv")
        assert len(table) == rows and set(table["prediction"]) <= {"cat", "dog", "fox"}
        assert {"path", "prob_cat", "prob_dog", "prob_fox"} <= set(table.columns)
    assert table["path"].str.endswith("fox/00000.png").iloc[0]


class _Snapshots(pl.Callback):
    """The backbone's weights at the end of each phase's fit."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_end(self, trainer, task) -> None:
        self.states.append({k: v.detach().clone() for k, v in task.model.net.state_dict().items()})


def test_resnet18_from_a_local_file_frozen_then_unfrozen(make_cfg, tmp_path) -> None:
    root = write_image_folder(tmp_path / "images", 6, classes=("a", "b"), sizes=(32,))
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, tmp_path / "r18.pt")
    cfg = make_cfg("data=image_folder", f"data.path={root}", "data.workers=0", "data.normalize=imagenet",
                   "model=torchvision", f"model.weights={tmp_path / 'r18.pt'}",
                   "model.freeze_backbone_epochs=1", "optimizer.backbone_lr_scale=0.1",
                   "trainer.max_epochs=1", "data.batch_size=4", tracking=False)
    snapshots = _Snapshots()
    metrics, objects = run(cfg, callbacks=[snapshots])
    assert {"frozen/test/acc", "test/acc"} <= set(metrics)  # both phases recorded
    assert "Non-trainable params: 11,176,512" in objects["summary"]
    frozen, final = snapshots.states
    backbone = [k for k in saved if not k.startswith("fc.") and "running" not in k
                and "num_batches" not in k]
    assert all(torch.equal(frozen[k], saved[k]) for k in backbone)  # unchanged while frozen
    assert not torch.equal(frozen["fc.weight"], final["fc.weight"])
    assert not all(torch.equal(final[k], saved[k]) for k in backbone)  # then fine-tuned


@pytest.mark.parametrize("setup, args, word", [
    ("empty", [], "holds no class folders"),
    ("images", ["model=torchvision", "model.arch=convnext_tiny"], "a size convnext_tiny can take"),
])
def test_bad_image_input_fails_in_one_line_before_training(monkeypatch, capsys, tmp_path, setup,
                                                           args, word) -> None:
    root = tmp_path / "images"
    root.mkdir()
    if setup == "images":  # 16 pixels: convnext's four downsamplings leave nothing
        write_image_folder(root, 6, classes=("a", "b"), sizes=(16,))
    outcome = run_cli(["data=image_folder", f"data.path={root}", "data.workers=0", "tracking=none",
                       "trainer.progress=false", *args], monkeypatch, capsys, tmp_path)
    assert outcome.code == 2, outcome.text
    assert "Traceback" not in outcome.text and len(outcome.err.strip().splitlines()) == 1
    assert word in outcome.err
    assert "training" not in outcome.out
