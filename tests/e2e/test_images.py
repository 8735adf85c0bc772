"""Real runs on image folders written here: streamed training, nnx-predict on image files,
a pretrained backbone frozen then unfrozen, and bad image input from the command line."""

from __future__ import annotations

import io
import re
import runpy
import shlex
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import torchvision

from nnx.cli.predict import main as predict_main
from nnx.data.files import write_image_folder
from nnx.models.predictor import PREDICTOR_DIR
from nnx.training.pipeline import run
from nnx.training.serving import NnxModel
from tests.cli_inprocess import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _page_commands() -> list[str]:
    """The commands of docs/pages/images.md's bash blocks, in order."""
    text = (ROOT / "docs" / "pages" / "images.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_images_page_commands_run_and_predict_by_class_name(monkeypatch, capsys, tmp_path,
                                                            mlflow_uri) -> None:
    monkeypatch.setenv("NNX_CACHE_DIR", str(tmp_path / "cache"))
    commands = _page_commands()
    assert sum(c.startswith("nnx ") for c in commands) >= 4
    for command in commands:
        words = shlex.split(command)
        if words[0] == "python":  # `python -c CODE`, in process: it saves a Python start
            assert words[1] == "-c", command
            script = tmp_path / "page_command.py"
            script.write_text(words[2])
            monkeypatch.chdir(tmp_path)
            runpy.run_path(str(script), run_name="__main__")
        elif words[0] == "nnx-predict":
            capsys.readouterr()
            monkeypatch.chdir(tmp_path)
            predict_main(words[1:])
            table = pd.read_csv(io.StringIO(capsys.readouterr().out))
            assert {"path", "prob_cat", "prob_dog", "prob_fox"} <= set(table.columns)
            assert set(table["prediction"]) <= {"cat", "dog", "fox"} and len(table) in (1, 20)
        else:
            args = [*words[1:], "trainer.progress=false"]
            if "tracking=none" not in args:  # tracked: the store of the session
                args.append(f"tracking.uri={mlflow_uri}")
            outcome = run_cli(args, monkeypatch, capsys, tmp_path)
            assert outcome.code == 0, outcome.text
            assert "results  " in outcome.out and "test/acc" in outcome.out
    # A CSV of image paths, relative to the CSV.
    pd.DataFrame({"path": ["fox/00000.png", "cat/00003.jpg"]}).to_csv(tmp_path / "imgs" / "some.csv",
                                                                     index=False)
    predict_main(["runs/cnn", "--input", "imgs/some.csv", "--output", "p.csv"])
    table = pd.read_csv(tmp_path / "p.csv")
    assert table["path"].tolist() == ["imgs/fox/00000.png", "imgs/cat/00003.jpg"]
    # The logged model (the pyfunc) reads the same paths and answers with the class names.
    pyfunc = NnxModel()
    pyfunc.load_context(SimpleNamespace(artifacts={PREDICTOR_DIR: str(tmp_path / "runs/cnn/predictor")}))
    served = pyfunc.predict(None, pd.DataFrame({"path": table["path"]}))
    assert served["prediction"].tolist() == table["prediction"].tolist()
    assert {"prob_cat", "prob_dog", "prob_fox"} <= set(served.columns)


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
