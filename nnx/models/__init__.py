"""Models: the building blocks plugins share (layers, layout adapters), phases, the summary.

Architectures themselves are plugins (``plugins/``); nothing here imports Lightning.
"""
