"""A test that needs a missing system program skips, naming the package; in CI it fails."""

from __future__ import annotations

import pytest

from tests.system_packages import REQUIRE, require

MISSING = ("nnx-no-such-program", "nnx-no-such-package")


def test_a_missing_program_skips_naming_the_debian_package(monkeypatch) -> None:
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require(*MISSING)
    [line] = str(skipped.value).splitlines()
    assert "nnx-no-such-program not found" in line and "apt-get install nnx-no-such-package" in line


def test_a_missing_program_fails_when_ci_requires_system_packages(monkeypatch) -> None:
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install nnx-no-such-package.*=1"):
        require(*MISSING)


def test_a_program_found_on_path_or_at_a_pattern_is_returned(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(REQUIRE, "1")
    assert require("sh", "dash").endswith("/sh")
    tool = tmp_path / "lib" / "9" / "bin" / "nnx-no-such-program"
    tool.parent.mkdir(parents=True)
    tool.touch()
    assert require(*MISSING, also=(str(tmp_path / "lib" / "*" / "bin" / MISSING[0]),)) == str(tool)
