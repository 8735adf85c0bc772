"""The Keras-style summary: the tutorial CNN's numbers, every plugin, nested modules."""

from __future__ import annotations

import pytest

from nnx.data import DataSpec
from nnx.models.summary import render, summarize
from nnx.registry import list_plugins
from tests.unit.test_zoo_models import build

MNIST = DataSpec((1, 28, 28), "classification", 10, kind="image")


def test_tutorial_cnn_summary_matches_keras() -> None:
    # Keras (channels last): conv2d (None, 26, 26, 32) 320; max_pooling2d (None, 13, 13, 32);
    # flatten (None, 5408); dense (None, 100) 540900; dense_1 (None, 10) 1010; total 542,230.
    model = build("cnn", MNIST)
    rows = [(r.kind, r.output_shape, r.params) for r in summarize(model, MNIST)]
    flat = 32 * 13 * 13
    assert rows == [
        ("Conv2d", (None, 32, 26, 26), 320),  # 3*3*1*32 weights + 32 biases
        ("ReLU", (None, 32, 26, 26), 0),
        ("MaxPool2d", (None, 32, 13, 13), 0),
        ("Flatten", (None, flat), 0),
        ("Linear", (None, 100), flat * 100 + 100),
        ("ReLU", (None, 100), 0),
        ("Linear", (None, 10), 1010),
    ]
    text = render(model, summarize(model, MNIST))
    assert "Total params: 542,230" in text and "Trainable params: 542,230" in text
    assert "0 (Conv2d)" in text and "(None, 32, 26, 26)" in text and "540,900" in text


@pytest.mark.parametrize("name", list_plugins("model"))
def test_every_plugin_has_a_summary_whose_rows_add_up(name: str) -> None:
    spec = DataSpec((1, 8, 8), "classification", 2, kind="image")
    model = build(name, spec)
    rows = summarize(model, spec)
    assert rows and all(r.output_shape != "?" for r in rows)
    leaves = sum(r.params for r in rows if not r.kind.count(":"))
    assert leaves == sum(p.numel() for p in model.parameters())


def test_modular_summary_groups_each_module_under_its_plugin() -> None:
    spec = DataSpec((1, 8, 8), "classification", 10, kind="image")
    model = build("modular", spec, modules={"conv": {"name": "cnn", "channels": [16]},
                                            "seq": {"name": "rnn", "cell": "gru", "hidden": 32}})
    rows = summarize(model, spec)
    conv = next(r for r in rows if r.name == "branches.conv")
    assert conv.kind == "cnn: Branch" and conv.output_shape == (None, 10) and conv.depth == 0
    assert conv.params == sum(p.numel() for p in model.branches["conv"].parameters())
    inner = [r for r in rows if r.name.startswith("branches.conv.")]
    assert inner[0].kind == "Conv2d" and inner[0].output_shape == (None, 16, 6, 6)
    assert all(r.depth == 1 for r in inner)
    assert "  branches.seq.net.rnn (GRU)" in render(model, rows)


def test_frozen_parameters_show_as_non_trainable() -> None:
    model = build("modular", MNIST, training="independent")
    model.freeze_branches()
    text = render(model, summarize(model, MNIST))
    frozen = sum(p.numel() for p in model.branches.parameters())
    assert f"Non-trainable params: {frozen:,}" in text
