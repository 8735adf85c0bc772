"""Credentials are masked wherever nnx shows or records a URI; MLflow gets them its own way."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from nnx.cli import ui
from nnx.config.secrets import (
    RedactingFilter,
    has_credentials,
    redact,
    redact_file,
    redact_tree,
)
from nnx.errors import ConfigValueError, TrackingError
from nnx.tracking.store import PASSWORD, USERNAME, Store
from nnx.training import resume

SECRET = "s3cret-Pw"


@pytest.mark.parametrize("text, shown", [
    ("postgresql://user:s3cret-Pw@host/db", "postgresql://user:***@host/db"),
    ("postgresql+psycopg://u:p/w@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
    ("https://alice:s3cret-Pw@mlflow.example.org", "https://alice:***@mlflow.example.org"),
    (r"tracking.uri=http\://alice\:s3cret-Pw@127.0.0.1\:5000", r"tracking.uri=http\://alice\:***@127.0.0.1\:5000"),
    ("a http://u:x@h and b https://v:y@k", "a http://u:***@h and b https://v:***@k"),
    ("postgresql://h/db?user=u&password=s3cret-Pw&sslmode=require",
     "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("http://127.0.0.1:5000/#/experiments/1", "http://127.0.0.1:5000/#/experiments/1"),
    ("postgresql://nnx@127.0.0.1:5432/mlflow", "postgresql://nnx@127.0.0.1:5432/mlflow"),
    ("sqlite:///outputs/mlflow.db", "sqlite:///outputs/mlflow.db"),
    ("http://alice:***@host", "http://alice:***@host"),
])
def test_redact_masks_passwords_and_keeps_the_rest(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(shown) == shown


def test_values_of_mlflows_secret_variables_are_masked_anywhere(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SECRET)
    assert redact(f"login failed for {SECRET}!") == "login failed for ***!"


def test_a_config_tree_is_redacted_leaf_by_leaf() -> None:
    tree = {"tracking": {"uri": f"postgresql://u:{SECRET}@h/db", "tags": {"a": 1}}, "xs": [f"http://a:{SECRET}@h"]}
    assert redact_tree(tree) == {"tracking": {"uri": "postgresql://u:***@h/db", "tags": {"a": 1}},
                                 "xs": ["http://a:***@h"]}
    assert SECRET in tree["tracking"]["uri"]  # a copy: the real URI is still there to connect with


def test_http_credentials_are_split_off_for_mlflow() -> None:
    store = Store.of("http://alice:p%40ss@127.0.0.1:5000/x")
    assert store.mlflow_uri == "http://127.0.0.1:5000/x"
    assert store.credentials == {USERNAME: "alice", PASSWORD: "p@ss"}
    assert Store.of("http://127.0.0.1:5000").credentials == {}
    uri = f"postgresql://u:{SECRET}@h/db"  # SQLAlchemy takes its credentials from the URI
    assert Store.of(uri).mlflow_uri == uri and Store.of(uri).credentials == {}
    assert has_credentials(uri) and not has_credentials("postgresql://u@h/db")


def test_a_store_never_prints_its_password() -> None:
    store = Store.of(f"https://alice:{SECRET}@mlflow.example.org")
    for text in (str(store), repr(store), f"{store}", store.shown, str([store])):
        assert SECRET not in text and "alice:***@mlflow.example.org" in text
    assert SECRET in store.uri  # still there, for the process that opens it


def test_a_session_sets_the_servers_credentials_only_within_the_block(monkeypatch) -> None:
    monkeypatch.delenv(USERNAME, raising=False)
    monkeypatch.setenv(PASSWORD, "the user's own")
    with Store.of(f"http://alice:{SECRET}@host").session(checked=False):
        assert (os.environ[USERNAME], os.environ[PASSWORD]) == ("alice", SECRET)
    assert USERNAME not in os.environ and os.environ[PASSWORD] == "the user's own"
    with Store.of("http://host").session(checked=False):  # none in the URI: the user's stay
        assert os.environ[PASSWORD] == "the user's own"


def test_log_records_are_masked_messages_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "#0 : tracking.uri=%s", (
        f"http://a:{SECRET}@h",), None)
    try:
        raise ValueError(f"postgresql://u:{SECRET}@h/db")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text and "tracking.uri=http://a:***@h" in text and "u:***@h/db" in text


def test_a_saved_file_is_rewritten_masked(tmp_path: Path) -> None:
    saved = tmp_path / "overrides.yaml"
    saved.write_text(f"- tracking.uri=http\\://a\\:{SECRET}@h\\:5000\n- model=mlp\n")
    assert redact_file(saved) and not redact_file(saved)
    assert saved.read_text() == "- tracking.uri=http\\://a\\:***@h\\:5000\n- model=mlp\n"
    assert [p.name for p in tmp_path.iterdir()] == ["overrides.yaml"]


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TrackingError) as caught:
        Store.of(f"http://alice:{SECRET}@127.0.0.1:{port}").open()
    message = str(caught.value)
    assert f"tracking.uri=http://alice:***@127.0.0.1:{port}" in message and SECRET not in message
    assert "Name or service" not in message  # the health check asks the host, not 'alice:...'


def test_a_resumed_run_asks_for_the_uri_it_did_not_record(tmp_path: Path, monkeypatch) -> None:
    uri = f"postgresql://u:{SECRET}@h/db"
    resume.write_record(tmp_path, "abc", redact_tree({"tracking": {"backend": "mlflow", "uri": uri}}))
    resume.checkpoint_path(tmp_path).parent.mkdir()
    torch.save({"state_dict": {}}, resume.checkpoint_path(tmp_path))
    assert SECRET not in (tmp_path / resume.RECORD).read_text()
    cfg = OmegaConf.create({"resume": str(tmp_path), "tracking": {"uri": "sqlite:///x.db"}})
    with pytest.raises(ConfigValueError, match=r"tracking.uri': 'postgresql://u:\*\*\*@h/db'"):
        resume.load(cfg)
    monkeypatch.setattr(resume, "overrides", lambda option="resume": [f"tracking.uri={uri}"])
    saved, _ = resume.load(cfg)
    assert saved.tracking.uri == uri


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]"])
def test_nnx_ui_on_loopback_says_nothing(host: str, capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        ui.main(["--host", host, "--uri", f"sqlite:///{tmp_path}/none.db"])
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "lab-box.example.org"])
def test_nnx_ui_beyond_loopback_says_who_can_read_the_store(host: str, capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        ui.main(["--host", host, "--uri", f"sqlite:///{tmp_path}/none.db"])
    err = capsys.readouterr().err
    assert f"serving on {host}: this dashboard has no login, so anyone who can reach this address " \
           "can read" in err
    assert "mlflow server --app-name basic-auth" in err and "docs/pages/team.md" in err


def test_nnx_ui_gives_mlflow_the_store_in_its_environment(monkeypatch, capsys, tmp_path: Path) -> None:
    calls = []
    monkeypatch.setattr(ui, "_experiment_id", lambda store, name: "1")
    monkeypatch.setattr(ui, "_serve", lambda command, env: calls.append((command, env)) or 0)
    uri = f"postgresql://u:{SECRET}@h/db"
    with pytest.raises(SystemExit):
        ui.main(["--uri", uri])
    [(command, env)] = calls
    assert SECRET not in " ".join(command) and env["MLFLOW_BACKEND_STORE_URI"] == uri
    assert SECRET not in capsys.readouterr().out
