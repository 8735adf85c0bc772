"""A Hydra callback that prints one table when a multirun ends: each job's choices and result.

Each job writes its overrides and returned metric (``optimized_metric``) to ``result.json``
in its own output folder, so the table is complete whatever the launcher (in-process,
joblib workers, a cluster); the table is read back from the sweep folder at the end.
Used by ``experiment=perceptron_gates`` to show which logic gates the perceptron learns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

__all__ = ["ResultTable", "RESULT_FILE", "format_table"]

RESULT_FILE = "result.json"


class ResultTable(Callback):
    """Print ``overrides | metric | verdict`` for every job of a multirun.

    ``pass_at``: a result at or above it is marked ``yes`` in the ``verdict`` column.
    """

    def __init__(self, verdict: str = "passed", pass_at: float | None = None) -> None:
        self.verdict, self.pass_at = verdict, pass_at

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        value = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
        record = {
            "overrides": list(config.hydra.overrides.task),
            "metric": config.get("optimized_metric", "val/loss"),
            "value": value,
            "num": config.hydra.job.get("num", 0),
        }
        path = Path(config.hydra.runtime.output_dir) / RESULT_FILE
        path.write_text(json.dumps(record))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        files = Path(config.hydra.sweep.dir).glob(f"*/{RESULT_FILE}")
        records = sorted((json.loads(f.read_text()) for f in files), key=lambda r: r["num"])
        print(format_table(records, self.verdict, self.pass_at), flush=True)


def format_table(records: list[dict], verdict: str, pass_at: float | None) -> str:
    """The records as an aligned text table: the overrides that differ between jobs, the
    metric, and the verdict when ``pass_at`` is given (a failed job shows ``failed``)."""
    metric = records[0]["metric"] if records else "result"
    header = ["job", metric] + ([verdict] if pass_at is not None else [])
    shared = set.intersection(*(set(r["overrides"]) for r in records)) if len(records) > 1 else set()
    rows = [header]
    for r in records:
        value = r["value"]
        job = " ".join(o for o in r["overrides"] if o not in shared) or "(defaults)"
        row = [job, "failed" if value is None else f"{value:.4f}"]
        if pass_at is not None:
            row.append("yes" if value is not None and value >= pass_at else "no")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])
