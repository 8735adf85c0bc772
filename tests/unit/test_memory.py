"""A model's training memory is known before its weights are allocated (nnx/models/memory.py)."""

from __future__ import annotations

import re

import pytest
from torch import nn

from nnx.errors import NnxError
from nnx.models.memory import COPIES, check_fits, needed_bytes


def test_the_count_comes_from_shapes_alone() -> None:
    count, need = needed_bytes(lambda: nn.Sequential(nn.Linear(100_000, 100_000), nn.Linear(100_000, 1)))
    assert count == 100_000 * 100_000 + 100_000 + 100_000 + 1  # 10 billion: never allocated
    assert need == COPIES * 4 * count


def test_a_model_larger_than_what_is_available_fails_in_one_line() -> None:
    with pytest.raises(NnxError, match=re.escape("Model 'wide' is too large for this machine: its 1,001 "
                                                 "parameters need about 0.0 GiB")):
        check_fits(lambda: nn.Linear(1000, 1), "wide", available=1000)
    check_fits(lambda: nn.Linear(1000, 1), "wide", available=2**30)  # fits: no error
