"""nnx: declarative, plugin-based neural-network experiments.

Importing this package is cheap on purpose: the heavy parts (torch, Lightning, MLflow)
are imported by the modules that need them, when they need them.
"""

__version__ = "0.1.0"
