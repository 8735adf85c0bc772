"""The scale-out configs compose and validate: trainer=ddp|gpu, hydra/launcher=slurm."""

from __future__ import annotations

from hydra import compose, initialize_config_module

from nnx.config import validate


def _compose(*overrides: str, hydra: bool = False):
    with initialize_config_module("nnx_conf", version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


def test_trainer_ddp_and_gpu_are_diffs_of_the_default() -> None:
    ddp = validate(_compose("trainer=ddp", "output_dir=x")).trainer
    assert (ddp.strategy, ddp.devices, ddp.max_epochs) == ("ddp", 2, 20)
    gpu = validate(_compose("trainer=gpu", "output_dir=x")).trainer
    assert (gpu.accelerator, gpu.devices, gpu.precision) == ("gpu", 1, "bf16-mixed")


def test_slurm_launcher_is_submitit_with_nnx_defaults() -> None:
    launcher = _compose("hydra/launcher=slurm", "hydra.launcher.partition=gpu", hydra=True)
    launcher = launcher.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 120)
