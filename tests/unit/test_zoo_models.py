"""Every model plugin over every kind of input and task: forward shapes, backward, rejections."""

from __future__ import annotations

import re

import pytest
import torch

from nnx.config import to_dataclass
from nnx.data import DataSpec
from nnx.errors import ConfigValueError
from nnx.registry import get_plugin, list_plugins

SHAPES = {
    "signal_1x40": ((1, 40), "signal"),
    "signal_3x16": ((3, 16), "signal"),
    "image_8x8": ((1, 8, 8), "image"),
    "image_28x28": ((1, 28, 28), "image"),
    "table_5": ((5,), "table"),
    "sequence_12x3": ((12, 3), "sequence"),
}
TASKS = {
    "classes10": {"task": "classification", "num_classes": 10},
    "binary": {"task": "classification", "num_classes": 2},
    "regression3": {"task": "regression", "num_targets": 3},
}


def _rejects(name: str, spec: DataSpec) -> str | None:
    """Combinations a plugin refuses with a config error, and the words the error must use."""
    if name == "cnn" and spec.kind == "table":
        return "cnn needs (channels, length) signals or (channels, height, width) images"
    if name == "perceptron" and spec.num_outputs != 1:
        return "a binary task (one output)"
    if name == "torchvision" and spec.kind != "image":
        return "grey or RGB images (channels, height, width)"
    return None


def build(name: str, spec: DataSpec, **fields: object) -> torch.nn.Module:
    plugin = get_plugin("model", name)
    return plugin(to_dataclass(fields, plugin.config, "model"), spec)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list_plugins("model"))
def test_forward_and_backward_shapes(name: str, shape: str, task: str) -> None:
    input_shape, kind = SHAPES[shape]
    spec = DataSpec(input_shape=input_shape, kind=kind, **TASKS[task])
    refusal = _rejects(name, spec)
    if refusal:
        with pytest.raises(ConfigValueError, match=re.escape(refusal)):
            build(name, spec)
        return
    torch.manual_seed(0)
    model = build(name, spec)
    out = model(torch.randn(4, *input_shape))
    assert out.shape == (4, spec.num_outputs)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_default_cnn_is_the_tutorial_cnn() -> None:
    model = build("cnn", DataSpec((1, 28, 28), "classification", 10, kind="image"))
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    conv, dense = model[0], model[4]
    assert (conv.out_channels, conv.kernel_size) == (32, (3, 3))
    assert dense.out_features == 100
    # he_uniform: U(-sqrt(6/fan_in), +sqrt(6/fan_in)), biases zero
    assert conv.weight.abs().max() <= (6 / 9) ** 0.5 and not conv.bias.any()


def test_cnn_picks_conv1d_for_signals_and_reads_sequences_as_channels() -> None:
    signal = build("cnn", DataSpec((2, 40), "classification", 10, kind="signal"))
    assert isinstance(signal[0], torch.nn.Conv1d) and signal[0].in_channels == 2
    sequence = build("cnn", DataSpec((12, 3), "classification", 10, kind="sequence"))
    assert sequence[1].in_channels == 3  # features are channels, time is the length


def test_cnn_options_build_the_layers_they_name() -> None:
    spec = DataSpec((1, 40), "classification", 10, kind="signal")
    model = build("cnn", spec, channels=[25, 25, 25], kernel_size=[5, 3, 3], stride=[2],
                  padding=[1], pool="none", dense=[], batch_norm=True, dropout=0.1)
    convs = [m for m in model if isinstance(m, torch.nn.Conv1d)]
    assert [c.kernel_size[0] for c in convs] == [5, 3, 3] and all(c.stride == (2,) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model) == 3
    assert not any(isinstance(m, torch.nn.MaxPool1d) for m in model)
    assert model[-1].in_features == 25 * 5  # 40 -> 19 -> 10 -> 5, mnist1d's ConvBase
    avg = build("cnn", spec, pool="avg")
    assert any(isinstance(m, torch.nn.AvgPool1d) for m in avg)


def test_cnn_that_shrinks_the_input_to_nothing_is_a_config_error() -> None:
    spec = DataSpec((1, 8, 8), "classification", 10, kind="image")
    with pytest.raises(ConfigValueError, match=re.escape("'model.channels'")):
        build("cnn", spec, channels=[8, 8, 8])


@pytest.mark.parametrize(("fields", "key"), [
    ({"kernel_size": [3, 3]}, "model.kernel_size"),  # two values for one layer
    ({"pool": "maxx"}, "model.pool"),
    ({"channels": []}, "model.channels"),
    ({"dropout": 1.0}, "model.dropout"),
])
def test_cnn_config_is_checked(fields: dict, key: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(f"'{key}'")):
        to_dataclass(fields, get_plugin("model", "cnn").config, "model")


def test_cnn_pool_typo_suggests_the_choice() -> None:
    with pytest.raises(ConfigValueError, match="Did you mean 'max'"):
        to_dataclass({"pool": "maxx"}, get_plugin("model", "cnn").config, "model")


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_lstm_and_gru_are_rnn_with_their_cell(name: str) -> None:
    model = build(name, DataSpec((1, 40), "classification", 10, kind="signal"))
    assert type(model.rnn).__name__ == name.upper()


@pytest.mark.parametrize(("shape", "kind", "steps", "features"), [
    ((1, 40), "signal", 40, 1),  # a signal is L steps of C features
    ((1, 8, 8), "image", 8, 8),  # an image is read row by row
    ((3, 8, 8), "image", 8, 24),
    ((5,), "table", 5, 1),  # a table is F steps of one feature
    ((12, 3), "sequence", 12, 3),
])
def test_rnn_reads_inputs_as_sequences(shape: tuple, kind: str, steps: int, features: int) -> None:
    model = build("rnn", DataSpec(shape, "classification", 10, kind=kind))
    seq = model.to_sequence(torch.randn(2, *shape))
    assert seq.shape == (2, steps, features) and model.rnn.input_size == features


def test_rnn_image_rows_keep_pixels_in_order() -> None:
    image = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)  # C=2, H=3, W=4
    model = build("rnn", DataSpec((2, 3, 4), "classification", 10, kind="image"))
    rows = model.to_sequence(image)
    assert torch.equal(rows[0, 1], torch.cat([image[0, 0, 1], image[0, 1, 1]]))


def test_bidirectional_last_step_reads_each_direction_at_its_end() -> None:
    torch.manual_seed(0)
    model = build("gru", DataSpec((1, 6), "classification", 3, kind="signal"), bidirectional=True,
                  hidden=4)
    steps, _ = model.rnn(model.to_sequence(torch.randn(2, 1, 6)))
    read = model.readout(steps)
    assert torch.equal(read[:, :4], steps[:, -1, :4]) and torch.equal(read[:, 4:], steps[:, 0, 4:])
    assert build("gru", DataSpec((1, 6), "classification", 3, kind="signal"),
                 readout="all", hidden=4).head.in_features == 6 * 4


@pytest.mark.parametrize(("override", "message"), [
    ("+model.modules.conv={name:cnn,chanels:[16]}",
     "Unknown config key 'model.modules.conv.chanels' (not a field of CNNConfig). "
     "Did you mean 'channels'?"),
    ("+model.modules.conv={name:cnn,channels:[0]}",
     "Bad value for 'model.modules.conv.channels': [0]"),
    ("+model.modules.conv={name:cnnn}", "Unknown model plugin 'cnnn'. Did you mean 'cnn'?"),
    ("+model.modules.conv={channels:[8]}", "Bad value for 'model.modules.conv'"),
    ("+model.inputs.conv=all", "Bad value for 'model.inputs': 'conv'; expected one of dense, seq"),
    ("+model.inputs.seq=a:b", "Bad value for 'model.inputs.seq': 'a:b'"),
    ("model.combiner=vote", "Bad value for 'model.combiner': 'vote'"),
])
def test_modular_validates_each_module_against_its_own_schema(
    make_cfg, override: str, message: str
) -> None:
    from nnx.config import validate
    from nnx.errors import NnxError

    with pytest.raises(NnxError, match=re.escape(message)):
        validate(make_cfg("model=modular", override, tracking=False))


def test_modular_modules_replace_the_default_pair(make_cfg) -> None:
    from nnx.config import validate

    recipe = validate(make_cfg("model=modular", "+model.modules.conv={name:cnn,channels:[16]}",
                               tracking=False))
    (name, component), = recipe.model.config.components.items()
    assert (name, component.plugin.name, component.config.channels) == ("conv", "cnn", [16])


def test_modular_input_slices_build_modules_for_their_part() -> None:
    spec = DataSpec((1, 8, 8), "classification", 10, kind="image")
    model = build("modular", spec, modules={"left": {"name": "mlp", "hidden": [4]}},
                  inputs={"left": "0:3"})
    assert model.branches["left"].net[1].in_features == 8 * 3
    with pytest.raises(ConfigValueError, match=re.escape("'model.inputs'")):
        build("modular", spec, modules={"left": {"name": "mlp"}}, inputs={"left": "8:"})
