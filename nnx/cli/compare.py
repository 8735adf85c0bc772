"""`nnx-compare`: a leaderboard of a sweep or an experiment, without opening the MLflow UI.

One row per run, the params that differ between the runs, the chosen metric with its test
value and trivial baseline, best first (by the metric's own direction) and marked. Imports
MLflow but never torch or Lightning, so it answers in about a second.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from nnx.cli.errors import fail
from nnx.config.identity import direction_of, is_location_key
from nnx.config.schemas import TrackingConfig
from nnx.errors import NnxError, UnknownNameError
from nnx.tracking.tracker import PARENT_TAG

__all__ = ["Row", "leaderboard", "render", "main"]

_DEFAULTS = TrackingConfig()
_SHORT_ID = 8
_SHORT_NAME = 28  # in a table; the varying params have columns of their own


@dataclass(frozen=True)
class Row:
    """One run of the leaderboard."""

    run_id: str
    name: str
    status: str
    params: dict[str, str]
    value: float | None
    pareto: bool = False  # on the Pareto front of a multi-objective search
    extra: dict[str, float] = field(default_factory=dict)  # the metric's test value, its baseline


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-compare",
        description="Rank the runs of a sweep (or of a whole experiment) by a metric.",
    )
    parser.add_argument("--uri", default=_DEFAULTS.uri, help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db)")
    parser.add_argument("--experiment", default=_DEFAULTS.experiment, help="experiment name")
    parser.add_argument("--sweep", metavar="RUN_ID",
                        help="a sweep's parent run id, or 'latest'; default: every run")
    parser.add_argument("--metric", help="metric to rank by (default: the sweep's, or val/loss)")
    parser.add_argument("--direction", choices=("auto", "minimize", "maximize"), default="auto",
                        help="auto: the metric's own (val/f1 up, val/loss down)")
    parser.add_argument("--all-params", action="store_true",
                        help="every param that varies; default for a whole experiment: the plugins "
                             "chosen and the params every run has")
    parser.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    return parser


def _experiment(client: Any, name: str) -> Any:
    found = client.get_experiment_by_name(name)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise UnknownNameError("experiment", name, names, fix="Pick one with --experiment.")
    return found


def _sweep_parent(client: Any, experiment_id: str, sweep: str) -> Any:
    if sweep != "latest":
        return client.get_run(sweep)
    parents = client.search_runs([experiment_id], "tags.`nnx.sweep` = 'parent'", max_results=1,
                                 order_by=["attributes.start_time DESC"])
    if not parents:
        raise NnxError("No sweep in this experiment yet; run one with `nnx -m ...`.")
    return parents[0]


def _beside(metric: str) -> list[str]:
    """The columns beside a metric: its test value and the test split's trivial baseline."""
    leaf = metric.rsplit("/", 1)[-1]
    return [k for k in (f"test/{leaf}", f"test/baseline_{leaf}") if k != metric]


def _readable(keys: list[str], rows: list[Row]) -> list[str]:
    """Of the varying params of a whole experiment, the plugins chosen (``model.name``) and
    the params that every run has: runs of different models or data sets differ in every
    field of their plugins (60+ columns), which says nothing a plugin's name does not."""
    return [k for k in keys if k.count(".") == 1 and k.endswith(".name")
            or all(k in row.params for row in rows)]


def leaderboard(client: Any, experiment: str, sweep: str | None, metric: str | None,
                direction: str, all_params: bool = False) -> tuple[list[Row], list[str], str, str]:
    """(rows best first, the params that vary, the metric, the direction) for a sweep or an
    experiment; the runs of an experiment leave out sweep parents and k-fold folds, and show
    `_readable` params unless ``all_params``."""
    found = _experiment(client, experiment)
    ids = [found.experiment_id]
    if sweep:
        parent = _sweep_parent(client, found.experiment_id, sweep)
        metric = metric or parent.data.tags.get("nnx.optimized_metric")
        runs = client.search_runs(ids, f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
                                  max_results=50000)
    else:
        runs = [r for r in client.search_runs(ids, max_results=50000)  # trials, not their parts
                if r.data.tags.get("nnx.sweep") != "parent" and "nnx.fold" not in r.data.tags]
    metric = metric or "val/loss"
    if direction == "auto":
        direction = direction_of(None, metric)
    beside = [k for k in _beside(metric) if any(k in r.data.metrics for r in runs)]
    rows = [Row(r.info.run_id, r.info.run_name or "", r.info.status,
                {k: v for k, v in r.data.params.items() if not is_location_key(k)},
                r.data.metrics.get(metric), r.data.tags.get("nnx.pareto") == "true",
                {k: r.data.metrics[k] for k in beside if k in r.data.metrics}) for r in runs]
    if rows and all(row.value is None for row in rows):
        known = sorted({k for r in runs for k in r.data.metrics})
        raise UnknownNameError("metric", metric, known, fix="Pick one with --metric.")
    keys = sorted({k for row in rows for k in row.params})
    varying = [k for k in keys if len({row.params.get(k, "") for row in rows}) > 1]
    if not sweep and not all_params:
        varying = _readable(varying, rows)
    sign = 1 if direction == "minimize" else -1
    rows.sort(key=lambda r: (not _scored(r.value), sign * r.value if _scored(r.value) else 0))
    return rows, varying, metric, direction


def _scored(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def render(rows: list[Row], varying: list[str], metric: str, fmt: str) -> str:
    """The leaderboard as a fixed-width table, CSV or a Markdown table; the best row marked
    ``*`` (or, for a multi-objective search, every run on the Pareto front ``P``)."""
    beside = list(dict.fromkeys(k for row in rows for k in row.extra))
    head = ["best", "run", "run_id", "status", *varying, metric, *beside]
    body = []
    front = any(row.pareto for row in rows)
    for i, row in enumerate(rows):
        best = ("P" if row.pareto else "") if front else ("*" if i == 0 and _scored(row.value) else "")
        value = f"{row.value:.6g}" if row.value is not None else ""
        run_id = row.run_id if fmt == "csv" else row.run_id[:_SHORT_ID]
        name = row.name if len(row.name) <= _SHORT_NAME or fmt == "csv" else \
            row.name[: _SHORT_NAME - 3] + "..."
        body.append([best, name, run_id, row.status, *(row.params.get(k, "") for k in varying),
                     value, *(f"{row.extra[k]:.6g}" if k in row.extra else "" for k in beside)])
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, *body])
        return out.getvalue()
    if fmt == "markdown":
        lines = [head, ["---"] * len(head), *body]
        return "".join("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |\n"
                       for line in lines)
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n"
                   for line in [head, *body])


def main(argv: list[str] | None = None) -> None:
    """`nnx-compare [--sweep latest] [--metric val/acc] [--format markdown]`."""
    args = _parser().parse_args(argv)
    from nnx.tracking.store import Store

    try:
        store = Store.of(args.uri)
        if not store.exists():
            raise NnxError(f"No MLflow store at '{args.uri}'. Pass the one nnx logged to: --uri.")
        with store.session(checked=False) as client:
            rows, varying, metric, direction = leaderboard(
                client, args.experiment, args.sweep, args.metric, args.direction, args.all_params)
    except NnxError as error:
        fail("nnx-compare", error)
    if not rows:
        print("no runs to compare", file=sys.stderr)
        return
    sys.stdout.write(render(rows, varying, metric, args.format))
    if args.format == "table":
        marks = "P marks the Pareto front" if any(r.pareto for r in rows) else "* marks the best"
        print(f"{len(rows)} runs, ranked by {metric} ({direction}); {marks}")
