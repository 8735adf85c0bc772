"""Tests that need a program from a system package (Chromium, PostgreSQL) skip without it.

On a new user's machine `make test` needs only Python and make: such a test skips with one
line naming the Debian package to install. CI installs those packages (`.ci/run`) and sets
``NNX_REQUIRE_SYSTEM_PACKAGES=1``, under which a missing program fails the test instead, so
a package that stops installing is never lost as a quiet skip.
"""

from __future__ import annotations

import glob
import os
import shutil

import pytest

__all__ = ["REQUIRE", "require"]

#: Set to 1 (by `.ci/run`) to turn a missing system program into a failure.
REQUIRE = "NNX_REQUIRE_SYSTEM_PACKAGES"


def require(program: str, package: str, also: tuple[str, ...] = ()) -> str:
    """The path of ``program``, found on ``PATH`` or at one of the glob patterns ``also``.

    Missing, the calling test (or fixture) skips, naming the Debian ``package`` that provides
    it; with ``NNX_REQUIRE_SYSTEM_PACKAGES=1`` it fails with the same line.
    """
    installed = sorted(path for pattern in also for path in glob.glob(pattern))
    found = shutil.which(program) or (installed[-1] if installed else None)
    if found is not None:
        return found
    reason = f"{program} not found: install the Debian package {package} (apt-get install {package})"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}; {REQUIRE}=1 makes this a failure", pytrace=False)
    pytest.skip(reason)
