"""The tracking store as one value (`nnx.tracking.store.Store`): its kind, its forms, and the
checks made before MLflow touches it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nnx.errors import TrackingError
from nnx.tracking.store import Store


@pytest.mark.parametrize("uri, kind", [
    ("sqlite:////tmp/x/mlflow.db", "sqlite"),
    ("http://127.0.0.1:5000", "server"),
    ("https://u:p@mlflow.example.org", "server"),
    ("postgresql://u:p@h/db", "database"),
    ("mysql+pymysql://h/db", "database"),
])
def test_a_uri_is_parsed_into_its_kind(uri: str, kind: str) -> None:
    assert Store.of(uri).kind == kind


def test_a_relative_sqlite_path_is_made_absolute_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.of("sqlite:///outputs/mlflow.db")
    assert store.uri == f"sqlite:///{tmp_path}/outputs/mlflow.db"
    assert store.path == tmp_path / "outputs" / "mlflow.db" and (tmp_path / "outputs").is_dir()
    assert Store.of(store.uri) == store
    assert store.near() == "sqlite:///outputs/mlflow.db"  # as the run prints it
    assert store.artifact_location() == (tmp_path / "outputs" / "mlartifacts").as_uri()
    assert Store.of("http://h:5000").path is None and Store.of("http://h:5000").artifact_location() is None


def test_only_a_sqlite_file_can_be_missing(tmp_path: Path) -> None:
    store = Store.of(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not store.exists()
    store.path.write_bytes(b"")
    assert store.exists()
    assert Store.of("http://127.0.0.1:5000").exists()


def test_the_dashboard_is_the_server_itself_or_a_local_ui() -> None:
    assert Store.of("http://a:b@h:5000/").dashboard == "http://h:5000"
    assert Store.of("sqlite:////x.db").dashboard == "http://127.0.0.1:5000"


def test_a_store_file_that_is_not_an_mlflow_database_is_refused_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello\n")
    with pytest.raises(TrackingError, match="which is not a SQLite database"):
        Store.of(f"sqlite:///{text}").check()
    assert text.read_text() == "hello\n"
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE foo (x)")
    before = other.read_bytes()
    with pytest.raises(TrackingError, match=r"not an MLflow store \(its tables: foo\)"):
        Store.of(f"sqlite:///{other}").open()
    assert other.read_bytes() == before


def test_refusals_name_the_user_and_never_the_password(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    store = Store.of("http://bob:hunter22@h:5000")
    assert "refused the password of user 'bob' (401)" in store.refused()
    assert "User 'bob' may not create experiment 'e'" in store.forbidden("e", "create")
    assert "hunter22" not in store.refused() + store.forbidden("e", "create")
    assert "refused no credentials" in Store.of("http://h:5000").refused()
