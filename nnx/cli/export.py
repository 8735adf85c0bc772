"""`nnx-export RUN --format onnx|torch_export|torchscript --output PATH`: a run's model as one
self-contained graph, its input contract, and a parity check on the run's own test inputs.

The graph holds the output activation (class probabilities), a dynamic batch axis and the
preprocessing a graph can express (`nnx.models.export`); ``PATH.json`` beside it is the input
contract (feature order, what happens before the graph). The parity check rebuilds the run's
test split from its config, runs the exported file (onnxruntime for ONNX) and the network in
torch, and requires a max abs difference <= 1e-5; the result is printed, written to
``PATH.parity.json`` and logged with the file and the contract as the run's ``export/``
artifacts. ONNX needs the ``export`` extra: ``pip install 'nnx[export]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from nnx.cli.errors import fail
from nnx.cli.predict import add_run_arguments
from nnx.errors import NnxError
from nnx.shutdown import exits_fast

__all__ = ["main", "console"]

TOLERANCE = 1e-5
_MAX_SAMPLES = 2048


def _parser() -> argparse.ArgumentParser:
    from nnx.models.export import FORMATS

    parser = argparse.ArgumentParser(
        prog="nnx-export",
        description="Export a trained run's model with its preprocessing and a parity check.")
    add_run_arguments(parser)
    parser.add_argument("--format", "-f", choices=sorted(FORMATS), default="onnx", help="default: onnx")
    parser.add_argument("--output", "-o", help="the file to write (default: model<suffix of the format>)")
    return parser


def _run_record(predictor_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The run's resolved config and MLflow run id: from its run dir, or from its store."""
    from omegaconf import OmegaConf

    from nnx.training.resume import RECORD

    record_file = predictor_dir.parent / RECORD
    if record_file.is_file():
        record: Any = OmegaConf.to_container(OmegaConf.load(record_file))
        return record["config"], record.get("run_id")
    raise NnxError(f"{predictor_dir.parent} holds no {RECORD}: the parity check needs the run's "
                   "config to rebuild its test split; export from the run dir where it trained.")


def _test_inputs(config: dict[str, Any]) -> Any:
    """The run's own test split (model inputs), rebuilt from its config."""
    from nnx.config.recipe import validate

    recipe = validate(config)
    return recipe.data.build().test[0][:_MAX_SAMPLES]


def _log(run_id: str | None, uri: str, files: list[Path]) -> str:
    from nnx.tracking.store import Store

    if run_id is None:
        return "not logged: the run is not tracked"
    with Store.of(uri).session() as client:
        for file in files:
            client.log_artifact(run_id, str(file), "export")
    return f"logged to run {run_id} as artifacts export/"


def export_run(run: str, fmt: str, output: Path | None, uri: str) -> list[str]:
    """Export ``run``'s model, check parity, log it; return the lines to print."""
    import numpy as np
    import torch

    from nnx.cli.predict import find_predictor, registered_run
    from nnx.models import export as graphs
    from nnx.models.predictor import Predictor

    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as error:
            raise NnxError(f"--format onnx needs {error.name}: pip install 'nnx[export]'") from None
    if run.startswith("models:/"):
        run = registered_run(run, uri)
    with tempfile.TemporaryDirectory() as scratch:
        folder = find_predictor(run, uri, Path(scratch))
        predictor = Predictor.load(folder)
    config, run_id = _run_record(folder)
    x = _test_inputs(config)
    inputs = graphs.graph_inputs(predictor, x)
    output = (output or Path(f"model{graphs.FORMATS[fmt]}")).resolve()
    graphs.export(predictor, fmt, output, torch.from_numpy(inputs[:2]))
    with torch.no_grad():
        expected = predictor.activate(predictor.model(x))
    if predictor.preprocessing.get("input") == "series":
        record = predictor.preprocessing
        expected = expected * record.get("std", 1.0) + record.get("mean", 0.0)
    got = graphs.run_exported(output, fmt, inputs)
    diff = graphs.max_abs_diff(got, expected)
    engine = "onnxruntime" if fmt == "onnx" else fmt.replace("_", ".")
    passed = bool(np.isfinite(diff) and diff <= TOLERANCE)
    parity = {"engine": engine, "reference": "torch", "samples": int(len(inputs)),
              "max_abs_diff": diff, "tolerance": TOLERANCE, "passed": passed}
    contract = graphs.contract(predictor, fmt)
    contract_file = output.with_name(output.name + ".json")
    parity_file = output.with_name(output.name + ".parity.json")
    contract_file.write_text(json.dumps(contract, indent=1, default=str))
    parity_file.write_text(json.dumps(parity, indent=1))
    in_graph = "; ".join(contract["preprocessing_in_graph"]) or "none"
    lines = [
        f"exported {fmt} -> {os.path.relpath(output)} (input {contract['input']['shape']} float32, "
        f"dynamic batch; output {contract['output']['kind']})",
        f"contract {os.path.relpath(contract_file)}; preprocessing in the graph: {in_graph}",
    ]
    if contract["preprocessing_before_graph"]:
        lines.append("before the graph: " + "; ".join(contract["preprocessing_before_graph"]))
    verdict = "ok" if parity["passed"] else "FAILED"
    lines.append(f"parity   {engine} vs torch on {len(inputs)} test samples: max abs diff {diff:.2e} "
                 f"(<= {TOLERANCE:g}) {verdict}")
    lines.append(_log(run_id, uri, [output, contract_file, parity_file]))
    if not parity["passed"]:
        raise NnxError("\n".join(lines[:-1]) + "\nparity check failed")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Entry point of `nnx-export`."""
    args = _parser().parse_args(argv)
    try:
        lines = export_run(args.run, args.format, Path(args.output) if args.output else None,
                           args.tracking_uri)
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        fail("nnx-export", error)
    print("\n".join(lines))


#: The `nnx-export` console script (`nnx.shutdown.exits_fast`).
console = exits_fast(main)
