"""Console scripts: `nnx` (the Hydra app), `nnx-plugins`, `nnx-compare`, `nnx-ui`.

The top of the stack: each script only dispatches to the stages below and reports errors.
"""
