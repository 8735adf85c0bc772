"""Training: the Lightning task, losses, optimizers, the fit step and the strategies that use it.

`nnx.training.pipeline.run` is the whole of one job. Importing this package is free; the
modules below import Lightning when they are used.
"""
