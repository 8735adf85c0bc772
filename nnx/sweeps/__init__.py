"""Sweeps: a multirun as one comparable unit, checked before its first trial (parent run,
child trials, one outcome per trial), and the search's study and workers. Hydra loads them
through ``conf/hydra/`` and ``hydra_plugins/``; importing the package is free.
"""
