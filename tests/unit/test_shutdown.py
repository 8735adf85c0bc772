"""`nnx.shutdown`: a console script ends with its exit hooks run and its output flushed, but
without the interpreter's teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    from pathlib import Path
    from nnx.shutdown import exits_fast

    folder = Path(sys.argv[1])

    class Teardown:
        def __del__(self):  # runs only in the interpreter's teardown
            (folder / "teardown").write_text("ran")

    kept = Teardown()
    atexit.register(lambda: (folder / "atexit").write_text("ran"))

    def late_writer():
        time.sleep(0.3)
        (folder / "thread").write_text("ran")

    def main():
        threading.Thread(target=late_writer).start()  # not a daemon: joined first
        print("no newline, still buffered", end="")
        exit_with = sys.argv[2]
        if exit_with == "return":
            return
        sys.exit(int(exit_with) if exit_with.isdigit() else exit_with)

    exits_fast(main)()
""")


@pytest.mark.parametrize(("exit_with", "code", "stderr"), [
    ("return", 0, ""), ("3", 3, ""), ("bad input", 1, "bad input\n"),
])
def test_a_console_script_runs_exit_hooks_and_flushes_but_skips_teardown(
        tmp_path: Path, exit_with: str, code: int, stderr: str) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path), exit_with],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (code, "no newline, still buffered", stderr)
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()


#: Loaded at the start of any Python process that has its folder on PYTHONPATH: one exit hook
#: and one object whose finalizer only the interpreter's teardown runs.
_SITE = textwrap.dedent("""
    import atexit, os
    from pathlib import Path

    folder = Path(os.environ["NNX_TEST_MARKS"])

    class _Teardown:
        def __del__(self):
            (folder / "teardown").write_text("ran")

    _kept = _Teardown()
    atexit.register(lambda: (folder / "atexit").write_text("ran"))
""")


@pytest.mark.parametrize(("script", "args", "code"), [
    ("nnx", ["model=mpl"], 2),  # a config error: the command ends before training
    ("nnx-predict", ["--help"], 0),
    ("nnx-evaluate", ["run", "--input", "missing.csv"], 2),  # bad input: one line, exit 2
])
def test_the_heavy_console_scripts_skip_teardown(tmp_path: Path, script: str, args: list[str],
                                                 code: int) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_SITE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "NNX_TEST_MARKS": str(tmp_path)}
    done = subprocess.run([str(Path(sys.executable).parent / script), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == code, done.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()
