"""A sweep's best trial is registered on a thread beside the sweep's own end: after the
warm-up and once the tracking writer stored the trials' deferred writes; its line is printed
when the sweep waits for it, and a failure is one line on stderr that does not fail the sweep.
(The registration itself, against real stores: tests/e2e/test_registry.py.)"""

from __future__ import annotations

import threading

from nnx.errors import TrackingError
from nnx.sweeps import registration


class _Writer:
    def __init__(self, said: list[str], error: Exception | None = None) -> None:
        self.said, self.error = said, error

    def barrier(self, fn: object) -> None:
        assert fn is None
        if self.error is not None:
            raise self.error
        self.said.append("stored")


def test_the_best_trial_is_registered_after_the_warm_up_and_the_stored_trials(monkeypatch, capsys) -> None:
    said: list[str] = []
    warmed = threading.Event()
    warming = threading.Thread(target=lambda: warmed.wait() and said.append("warm"))
    warming.start()

    def register(recipe: object, parent: str, best: str) -> str:
        said.append("registered")
        return f"registry registered {best}"

    monkeypatch.setattr(registration, "_register_best", register)
    report = registration.register_best(None, "parent", "run1", _Writer(said), warming)
    warmed.set()  # the warm-up ends only now: registering waited for it
    report()
    assert said == ["warm", "stored", "registered"]
    assert capsys.readouterr() == ("registry registered run1\n", "")


def test_a_failed_registration_is_one_line_on_stderr(monkeypatch, capsys) -> None:
    def refused(*args: object) -> str:
        raise RuntimeError("RESOURCE_DOES_NOT_EXIST: no such run\nthe rest of a traceback")

    monkeypatch.setattr(registration, "_register_best", refused)
    registration.register_best(None, "parent", "run1", _Writer([]))()
    assert capsys.readouterr() == (
        "", "nnx: the best trial was not registered: RESOURCE_DOES_NOT_EXIST: no such run\n")
    gone = TrackingError("the tracking writer process ended (exit status 1); see the error above")
    registration.register_best(None, "parent", "run1", _Writer([], gone))()
    assert capsys.readouterr().err == f"nnx: the best trial was not registered: {gone}\n"
