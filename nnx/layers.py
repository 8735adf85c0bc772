"""Moved to `nnx.models.layers`; this path still works and warns (FutureWarning)."""

from nnx._moved import moved

__getattr__ = moved(__name__, {
    "ACTIVATIONS": "nnx.models.layers",
    "INITS": "nnx.models.layers",
    "activation": "nnx.models.layers",
    "init_weights": "nnx.models.layers",
    "neuron": "nnx.models.layers",
    "Step": "nnx.models.layers",
    "make_mlp": "nnx.models.layers",
})
