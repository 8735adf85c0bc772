"""Which plugins an `nnx` command line names, read with Hydra's own override parser."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from nnx.cli.app import _chosen

KNOWN = ["cnn", "mlp", "tiny", "tinier"]


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("model=tiny", {"tiny"}),
        ("+model=tiny", {"tiny"}),
        ("++model=tiny", {"tiny"}),
        ("model=mlp,tiny", {"mlp", "tiny"}),
        ("model=choice(cnn,tiny)", {"cnn", "tiny"}),
        ("model=glob(tin*)", {"tiny", "tinier"}),
        ("hydra.sweeper.params.model='choice(tiny, cnn)'", {"tiny", "cnn"}),
        ("hydra.sweeper.params={model:'choice(tinier)'}", {"tinier"}),
        ("model.hidden=[3]", set()),
        ("data=tiny", set()),
    ],
)
def test_every_override_form_that_names_a_model(override: str, names: set[str]) -> None:
    parsed = OverridesParser.create().parse_overrides([override])
    assert _chosen(parsed, "model", KNOWN) == names
