"""Typed schemas of a run's config, checked before any data or model is built.

Every group that selects a plugin (``model``, ``data``, ``optimizer``, ``scheduler``) is
merged over that plugin's config dataclass; the other groups over the dataclasses below.
Unknown keys, wrong types and out-of-range values become one-line `NnxError`s that name
the dotted key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf import errors as oc_errors

from nnx.errors import ConfigChoiceError, ConfigKeyError, ConfigValueError, did_you_mean
from nnx.registry import Plugin, get_plugin

__all__ = [
    "EarlyStoppingConfig",
    "CheckpointConfig",
    "TrainerConfig",
    "TrackingConfig",
    "SweepConfig",
    "EvalConfig",
    "RunConfig",
    "Component",
    "Recipe",
    "check",
    "check_choice",
    "check_metric",
    "ACTIVATION_NAMES",
    "INIT_NAMES",
    "to_dataclass",
    "validate",
]

T = TypeVar("T")

LOSSES = ("auto", "cross_entropy", "binary_cross_entropy", "mse", "perceptron")
#: Names plugins accept for ``activation`` and ``init``; `nnx.layers` maps them to torch.
ACTIVATION_NAMES = ("sigmoid", "relu", "tanh", "leaky_relu", "softmax", "step", "identity")
INIT_NAMES = ("default", "he_uniform", "he_normal", "xavier", "xavier_normal")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16", "bf16-mixed", "bf16", "16-true",
              "bf16-true")
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook",
              "ddp_find_unused_parameters_true", "fsdp", "deepspeed", "single_device")
URI_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file", "databricks")
SPLITS = ("train", "val", "test")


def check(ok: bool, key: str, value: object, expected: str) -> None:
    """Raise `ConfigValueError` for ``key`` unless ``ok``; for use in ``__post_init__``."""
    if not ok:
        raise ConfigValueError(key, value, expected)


def check_metric(key: str, value: str) -> None:
    """A metric key must read ``split/name`` with split train, val or test (``val/loss``)."""
    split, _, name = str(value).partition("/")
    check(split in SPLITS and name.isidentifier(), key, value,
          "a metric key 'train|val|test/<name>' such as val/loss or val/acc")


def check_choice(key: str, value: str, choices: typing.Iterable[str]) -> None:
    """Raise an error naming the choices (and the closest one) unless ``value`` is among them."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigChoiceError(key, value, choices)


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False  # stop when `monitor` has not improved for `patience` epochs
    monitor: str = "val/loss"  # a logged metric key
    mode: str = "min"  # min | max
    patience: int = 5  # epochs without improvement before stopping

    def __post_init__(self) -> None:
        check_choice("early_stopping.mode", self.mode, ("min", "max"))
        check_metric("early_stopping.monitor", self.monitor)
        check(self.patience >= 1, "early_stopping.patience", self.patience, "an integer >= 1")


@dataclass
class CheckpointConfig:
    enabled: bool = False  # save the best and the last model under <run dir>/checkpoints
    monitor: str = "val/loss"  # a logged metric key
    mode: str = "min"  # min | max
    save_last: bool = True  # keep checkpoints/last.ckpt (what `resume=` continues) when training stops
    save_last_every_s: float = 60.0  # and during training, at most this often (seconds)

    def __post_init__(self) -> None:
        check_choice("checkpoint.mode", self.mode, ("min", "max"))
        check_metric("checkpoint.monitor", self.monitor)
        check(self.save_last_every_s > 0, "checkpoint.save_last_every_s", self.save_last_every_s,
              "a number of seconds > 0")


@dataclass
class TrainerConfig:
    max_epochs: int = 20  # passes over the training split
    accelerator: str = "auto"  # auto | cpu | gpu | mps: auto uses a GPU when there is one
    devices: Any = "auto"  # auto, a count, or a list of device indices
    strategy: str = "auto"  # auto | ddp | ddp_spawn ... (Lightning strategies)
    num_nodes: int = 1  # machines for multi-node training
    precision: str = "32-true"  # 32-true | 16-mixed | bf16-mixed | 64-true
    gradient_clip_val: float | None = None  # clip gradients to this value (None: no clipping)
    gradient_clip_algorithm: str = "norm"  # norm | value
    fused_steps: int | None = None  # optimizer steps per Lightning step; None: a whole epoch
    progress: bool = True  # one progress line per epoch
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def __post_init__(self) -> None:
        check(self.max_epochs >= 1, "max_epochs", self.max_epochs, "an integer >= 1")
        check_choice("accelerator", self.accelerator, ACCELERATORS)
        check_choice("precision", str(self.precision), PRECISIONS)
        check_choice("strategy", self.strategy, STRATEGIES)
        check(_devices_ok(self.devices), "devices", self.devices,
              "auto, a count >= 1 (-1: all), or a list of device indices")
        check(self.num_nodes >= 1, "num_nodes", self.num_nodes, "an integer >= 1")
        check_choice("gradient_clip_algorithm", self.gradient_clip_algorithm, ("norm", "value"))
        check(
            self.gradient_clip_val is None or self.gradient_clip_val > 0,
            "gradient_clip_val", self.gradient_clip_val, "a number > 0, or null",
        )
        check(
            self.fused_steps is None or self.fused_steps >= 1,
            "fused_steps", self.fused_steps, "an integer >= 1, or null",
        )


@dataclass
class TrackingConfig:
    backend: str = "mlflow"  # mlflow | none
    uri: str = "sqlite:///outputs/mlflow.db"  # any MLflow tracking URI (sqlite:///..., http://...)
    experiment: str = "nnx"  # MLflow experiment that receives the run
    run_name: str | None = None  # None: MLflow picks a name
    tags: dict[str, str] = field(default_factory=dict)  # extra tags for the run
    log_model: bool = False  # log the model with mlflow.pytorch (registrable); ~2 s per process
    system_metrics: bool = False  # sample CPU/memory/GPU use into system/* metrics

    def __post_init__(self) -> None:
        check_choice("backend", self.backend, ("mlflow", "none"))
        if self.backend == "none":
            return
        scheme = self.uri.partition(":")[0]
        check(scheme in URI_SCHEMES and ":" in self.uri, "uri", self.uri,
              "an MLflow tracking URI: sqlite:///path/mlflow.db, http://host:port, postgresql://..."
              + did_you_mean(scheme, URI_SCHEMES))
        check(bool(self.experiment.strip()), "experiment", self.experiment, "a non-empty name")


@dataclass
class SweepConfig:
    skip_finished: bool = False  # in a multirun, reuse trials whose exact config already FINISHED


@dataclass
class EvalConfig:
    folds: int | None = None  # k-fold cross-validation: k models, mean ± std; None or 1: off
    fold_seed: int = 0  # shuffles samples into folds; fixed, so changing `seed` keeps the folds

    def __post_init__(self) -> None:
        check(self.folds is None or self.folds >= 1, "eval.folds", self.folds, "an integer >= 2, or null")

    @property
    def cross_validate(self) -> bool:
        return self.folds is not None and self.folds >= 2


@dataclass
class RunConfig:
    """Top level of ``conf/train.yaml``; plugin groups are validated by their own schemas."""

    seed: int = 42  # seeds torch, numpy and python for the whole run
    deterministic: bool = True  # deterministic algorithms (Lightning's `deterministic`)
    loss: str = "auto"  # auto picks from the data: cross_entropy | binary_cross_entropy | mse
    optimized_metric: str = "val/loss"  # what `nnx` returns to a sweeper
    output_dir: str = "outputs"  # where this run writes files (Hydra's run dir)
    resume: str | None = None  # a run id or run dir: continue its training from its last checkpoint
    data: Any = None
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    trainer: Any = None
    tracking: Any = None
    sweep: SweepConfig = field(default_factory=SweepConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        check_choice("loss", self.loss, LOSSES)
        check(0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)")
        check_metric("optimized_metric", self.optimized_metric)


def _devices_ok(devices: Any) -> bool:
    if devices == "auto":
        return True
    if isinstance(devices, int) and not isinstance(devices, bool):
        return devices >= 1 or devices == -1
    if isinstance(devices, list):
        return bool(devices) and all(isinstance(d, int) and d >= 0 for d in devices)
    return isinstance(devices, str) and devices.replace(",", "").isdigit()


@dataclass(frozen=True)
class Component:
    """A plugin chosen by config, with its validated config dataclass instance."""

    plugin: Plugin
    config: Any

    def build(self, *args: Any) -> Any:
        return self.plugin(self.config, *args)


@dataclass(frozen=True)
class Recipe:
    """Everything a run needs, validated: what `nnx.train.run` executes."""

    run: RunConfig
    data: Component
    model: Component
    optimizer: Component
    scheduler: Component | None
    trainer: TrainerConfig
    tracking: TrackingConfig


def _pretty_type(tp: Any) -> str:
    return str(tp).replace("typing.", "") if not isinstance(tp, type) else tp.__name__


def _field_type(schema: type, dotted: str) -> Any:
    hints: Any = schema
    for part in dotted.split("."):
        if not (isinstance(hints, type) and dataclasses.is_dataclass(hints)):
            return hints
        hints = typing.get_type_hints(hints).get(part, Any)
    return hints


def to_dataclass(node: Any, schema: type[T], prefix: str) -> T:
    """Merge a config node over ``schema``'s defaults and build the dataclass instance.

    ``prefix`` is the node's dotted path, so errors name the key as the user typed it.
    """
    data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    data = dict(data or {})
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        return typing.cast(T, OmegaConf.to_object(merged))
    except (oc_errors.ConfigKeyError, oc_errors.ConfigAttributeError) as error:
        parent = error.full_key.rsplit(".", 1)[0] if "." in error.full_key else ""
        owner = _field_type(schema, parent) if parent else schema
        fields = [f.name for f in dataclasses.fields(owner)] if dataclasses.is_dataclass(owner) else []
        raise ConfigKeyError(_join(prefix, error.full_key), fields, owner.__name__) from None
    except oc_errors.MissingMandatoryValue as error:
        raise ConfigValueError(_join(prefix, error.full_key), "???", "a value (it is required)") from None
    except oc_errors.ValidationError as error:
        expected = _pretty_type(_field_type(schema, error.full_key))
        raise ConfigValueError(_join(prefix, error.full_key), error.value, expected) from None
    except (ConfigValueError, ConfigKeyError) as error:  # from a schema's __post_init__
        raise error.at(prefix) from None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _component(kind: str, node: Any) -> Component:
    node = dict(node)
    name = node.pop("name", None)
    if name is None:
        raise ConfigValueError(f"{kind}.name", None, f"the name of a registered {kind} plugin")
    plugin = get_plugin(kind, name)
    return Component(plugin, to_dataclass(node, plugin.config, kind))


#: Groups that only change other keys (they are merged away by Hydra) and groups with schemas.
_MODE_GROUPS = ("hydra", "experiment", "hparams_search", "debug")
_SLOT_GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "tracking")


def validate(cfg: DictConfig | dict) -> Recipe:
    """Check the whole composed config against its schemas; return what a run needs."""
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    tree = {k: v for k, v in tree.items() if k not in _MODE_GROUPS}
    top = {k: v for k, v in tree.items() if k not in _SLOT_GROUPS}
    run = to_dataclass(top, RunConfig, "")
    scheduler = tree.get("scheduler")
    return Recipe(
        run=run,
        data=_component("data", tree.get("data") or {}),
        model=_component("model", tree.get("model") or {}),
        optimizer=_component("optimizer", tree.get("optimizer") or {}),
        scheduler=_component("scheduler", scheduler) if scheduler else None,
        trainer=to_dataclass(tree.get("trainer"), TrainerConfig, "trainer"),
        tracking=to_dataclass(tree.get("tracking"), TrackingConfig, "tracking"),
    )
