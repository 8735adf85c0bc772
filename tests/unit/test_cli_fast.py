"""The CLI's fast paths: help, plugin listing and config errors import no heavy library.

Each command runs its installed console script as a process, as a user types it, with
``PYTHONPROFILEIMPORTTIME=1``: the interpreter lists every module it imports on stderr, so one
process shows both what the user sees (exit code, output) and what it imported.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

HEAVY = ("torch", "pytorch_lightning", "mlflow", "sklearn")


@dataclass
class Traced:
    """A console script's process: its exit code, stdout, stderr without the import lines,
    and the modules it imported."""

    code: int
    out: str
    err: str
    imported: set[str]

    def heavy(self) -> list[str]:
        return sorted(m for m in self.imported if m.split(".")[0] in HEAVY)


def _traced(run_nnx, *args: str, script: str = "nnx") -> Traced:
    done: subprocess.CompletedProcess = run_nnx(*args, script=script, env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported, err = set(), []
    for line in done.stderr.splitlines(keepends=True):
        if line.startswith("import time:"):  # "import time: self | cumulative | module"
            imported.add(line.rsplit("|", 1)[1].strip())
        else:
            err.append(line)
    traced = Traced(done.returncode, done.stdout, "".join(err), imported)
    assert f"nnx.cli.{'plugins' if script == 'nnx-plugins' else 'app'}" in imported, done.stderr[-2000:]
    return traced


@pytest.mark.parametrize(("script", "argv"),
                         [("nnx-plugins", ()), ("nnx-plugins", ("mlp",)), ("nnx", ("--help",))])
def test_fast_paths_import_no_heavy_library(run_nnx, script: str, argv: tuple[str, ...]) -> None:
    traced = _traced(run_nnx, *argv, script=script)
    assert traced.code == 0 and traced.heavy() == [], (traced.heavy(), traced.err)
    assert "Traceback" not in traced.err
    if script == "nnx-plugins" and not argv:  # the listing: every plugin with its defaults
        for name in ("mlp", "perceptron", "digits", "mnist1d", "logic_xor", "sgd", "rmsprop", "cosine"):
            assert f"  {name} " in traced.out
        assert "hidden=[100, 100] activation='relu'" in traced.out
    elif script == "nnx-plugins":  # one plugin's details: types, defaults and help
        assert "hidden: list[int] = [100, 100]  # sizes of the hidden layers" in traced.out
        assert "nnx model=mlp model.FIELD=VALUE" in traced.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model=mpl",), "Unknown model option 'mpl'. Did you mean 'mlp'?"),
        (("model=nope",), "Unknown model option 'nope'"),
        (("data=digitz",), "Did you mean 'digits'?"),
        (("model.hiden=3",), "Unknown config key 'model.hiden'"),
        (("model.hidden=abc",), "Bad value for 'model.hidden': 'abc'; expected list[int]"),
        (("optimizer=adam", "optimizer.momentum=0.9"), "Unknown config key 'optimizer.momentum'"),
        (("trainer.max_epochs=0",), "Bad value for 'trainer.max_epochs': 0"),
        (("tracking.tags={team:a}",), "'tracking.tags' takes keys of your own; add 'team' with a "
                                      "leading '+': +tracking.tags.team=VALUE"),
    ],
)
def test_user_errors_are_one_line_exit_2_without_heavy_imports(run_nnx, args: tuple[str, ...],
                                                                message: str) -> None:
    out = _traced(run_nnx, *args)
    assert out.code == 2
    assert out.err.strip().splitlines() == [
        f"nnx: error: {out.err.split('nnx: error: ', 1)[1].strip()}"
    ]
    assert message in out.err
    assert "Traceback" not in out.err
    assert out.heavy() == []


def test_unknown_plugin_in_nnx_plugins(run_nnx) -> None:
    out = run_nnx("mpl", script="nnx-plugins")
    assert out.returncode == 2 and "Did you mean 'mlp'?" in out.stderr


def test_hydra_flags_keep_working(run_nnx) -> None:
    out = run_nnx("--cfg", "job", "model=perceptron")
    assert out.returncode == 0
    assert "name: perceptron" in out.stdout and "optimizer:" in out.stdout


def test_an_earlier_failed_sweep_does_not_decide_the_next_exit(monkeypatch, capsys, tmp_path) -> None:
    from types import SimpleNamespace

    from nnx.sweeps import sweep
    from tests.cli_inprocess import run_cli

    failed = SimpleNamespace(state="FAIL", user_error=True)
    ended = SimpleNamespace(ended=True, outcomes=[failed], plan=SimpleNamespace(
        recipe=SimpleNamespace(run=SimpleNamespace(sweep=SimpleNamespace(allow_failures=False)))))
    monkeypatch.setattr(sweep, "_running", [ended])
    assert sweep.exit_code() == 2  # what the sweep's own command exits with
    assert run_cli(["--cfg", "job"], monkeypatch, capsys, tmp_path).code == 0
