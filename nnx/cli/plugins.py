"""`nnx-plugins`: what can be selected (models, data, optimizers, schedulers), and how to
configure it. Reads entry-point metadata and plugin schemas only: no torch, no Lightning.
"""

from __future__ import annotations

import argparse
from typing import Any

from nnx.cli.errors import fail
from nnx.config.describe import details, kinds_with, listing
from nnx.errors import NnxError
from nnx.registry import KINDS, get_plugin

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-plugins",
        description="List nnx's plugins (models, data, optimizers, schedulers) and their config fields.",
    )
    parser.add_argument("name", nargs="?", help="show one plugin's fields in full")
    parser.add_argument("--kind", choices=list(KINDS), help="only this kind")
    return parser


def main(argv: list[str] | None = None) -> None:
    """`nnx-plugins [NAME] [--kind KIND]`: what can be selected, and how to configure it."""
    args: Any = _parser().parse_args(argv)
    try:
        if args.name is None:
            print(listing([args.kind] if args.kind else list(KINDS)), end="")
            return
        kinds = [args.kind] if args.kind else kinds_with(args.name) or ["model"]
        for kind in kinds:
            print(details(get_plugin(kind, args.name)))
    except NnxError as error:
        fail("nnx-plugins", error)
