"""The CLI's fast paths: help, plugin listing and config errors import no heavy library."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "pytorch_lightning", "mlflow", "sklearn")

_PROBE = """
import sys
sys.argv = {argv!r}
import importlib
try:
    importlib.import_module("nnx.cli.{entry}").main()
except SystemExit as exit:
    print("exit", exit.code)
print("heavy", sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _probe(entry: str, *argv: str) -> subprocess.CompletedProcess:
    code = _PROBE.format(argv=["prog", *argv], entry=entry, heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("entry", "argv", "exit_code"),
    [
        ("plugins", (), None),
        ("plugins", ("mlp",), None),
        ("app", ("--help",), None),
        ("app", ("model=nope",), 2),
        ("app", ("model.hiden=3",), 2),
        ("app", ("model.hidden=abc",), 2),
    ],
)
def test_fast_paths_import_no_heavy_library(entry: str, argv: tuple[str, ...], exit_code: int | None) -> None:
    out = _probe(entry, *argv)
    assert "heavy []" in out.stdout, out.stdout + out.stderr
    if exit_code is not None:
        assert f"exit {exit_code}" in out.stdout
        assert "Traceback" not in out.stderr


def test_plugin_listing_shows_every_plugin_with_defaults(run_nnx) -> None:
    out = run_nnx(script="nnx-plugins")
    assert out.returncode == 0
    for name in ("mlp", "perceptron", "digits", "mnist1d", "logic_xor", "sgd", "rmsprop", "cosine"):
        assert f"  {name} " in out.stdout
    assert "hidden=[100, 100] activation='relu'" in out.stdout


def test_plugin_details_show_types_defaults_and_help(run_nnx) -> None:
    out = run_nnx("mlp", script="nnx-plugins")
    assert "hidden: list[int] = [100, 100]  # sizes of the hidden layers" in out.stdout
    assert "nnx model=mlp model.FIELD=VALUE" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model=mpl",), "Unknown model option 'mpl'. Did you mean 'mlp'?"),
        (("data=digitz",), "Did you mean 'digits'?"),
        (("model.hiden=3",), "Unknown config key 'model.hiden'"),
        (("model.hidden=abc",), "Bad value for 'model.hidden': 'abc'; expected list[int]"),
        (("optimizer=adam", "optimizer.momentum=0.9"), "Unknown config key 'optimizer.momentum'"),
        (("trainer.max_epochs=0",), "Bad value for 'trainer.max_epochs': 0"),
        (("tracking.tags={team:a}",), "'tracking.tags' takes keys of your own; add 'team' with a "
                                      "leading '+': +tracking.tags.team=VALUE"),
    ],
)
def test_user_errors_are_one_line_exit_2(run_nnx, args: tuple[str, ...], message: str) -> None:
    out = run_nnx(*args)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"nnx: error: {out.stderr.split('nnx: error: ', 1)[1].strip()}"
    ]
    assert message in out.stderr
    assert "Traceback" not in out.stderr


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
