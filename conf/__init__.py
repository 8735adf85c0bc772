"""nnx's Hydra config tree, installed as the package ``nnx_conf`` (``pkg://nnx_conf``)."""
