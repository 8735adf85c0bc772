"""Sweeps: a multirun as one comparable unit (parent run, child trials), and the launcher
that survives a dead worker. Hydra loads these through ``conf/hydra/``; importing the
package is free.
"""
