"""Image folders: nnx's streaming pipeline vs a hand-written torchvision loop, caches, memory.

Writes a folder of generated 28x28 grey PNGs (10 classes), then, in one run:

1. throughput: `data=image_folder data.cache=none` with the CNN, 3 epochs, training images
   per second (the training part of each epoch) against a hand-written loop: torchvision's
   `ImageFolder` + `DataLoader` with the same worker count, batch size and model;
2. caches: epoch time with `data.cache=memory` and a random flip (decoded once, flipped batch
   by batch in the training process) after the first epoch, against decoding every epoch
   (`cache=none`, the same flip), and the in-memory fast path (`cache=memory`, no random
   augmentation); then the input pipeline alone (the epoch's batches, no model), where a
   cache's saving is not hidden by the model's steps;
3. peak memory of a whole `nnx` process with `data.cache=none` on 5,000 and 20,000 images;
4. resnet18 from a local weights file (`torch.save` of a fresh resnet18), backbone frozen for
   one epoch, then unfrozen: the metrics of both phases.

    python benchmarks/images.py [--images 5000] [--large 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module

from nnx.config import to_dataclass
from nnx.data.batches import IndexBatches
from nnx.data.files import write_image_folder
from nnx.data.streaming import StreamBatches, is_stream
from nnx.training.pipeline import run

EPOCHS, BATCH = 3, 64
CLASSES = tuple(f"c{i}" for i in range(10))
CNN = ["model=cnn", "model.channels=[16]", "model.dense=[64]"]


class TrainTimer(pl.Callback):
    """Seconds of each epoch's training part (validation excluded)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.started: float | None = None

    def on_train_epoch_start(self, trainer, task) -> None:
        self.started = time.perf_counter()

    def on_validation_start(self, trainer, task) -> None:
        if self.started is not None:
            self.seconds.append(time.perf_counter() - self.started)
            self.started = None


def nnx_run(root: Path, out: Path, *overrides: str, epochs: int = EPOCHS) -> tuple[dict, dict, TrainTimer]:
    timer = TrainTimer()
    with initialize_config_module("nnx_conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            "data=image_folder", f"data.path={root}", f"output_dir={out}", "tracking=none",
            "trainer.progress=false", "trainer.accelerator=cpu", f"data.batch_size={BATCH}",
            f"trainer.max_epochs={epochs}", *overrides])
    metrics, objects = run(cfg, callbacks=[timer])
    return metrics, objects, timer


def hand_loop(root: Path, workers: int, model: torch.nn.Module) -> list[float]:
    """torchvision's ImageFolder + DataLoader, the same model and batch: seconds per epoch."""
    from torchvision import datasets, transforms

    folder = datasets.ImageFolder(str(root), transforms.Compose([
        transforms.Grayscale(), transforms.ToTensor(), transforms.Normalize((0.5,), (0.25,))]))
    loader = torch.utils.data.DataLoader(folder, batch_size=BATCH, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = []
    for _ in range(EPOCHS):
        started = time.perf_counter()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    return seconds


def _epoch_seconds(batches) -> float:
    started = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - started


def peak_memory(root: Path, out: Path, workers: int) -> float:
    """Peak RSS (MiB) of an `nnx` process streaming ``root`` for one epoch (and of its workers)."""
    code = ("import resource, sys; from nnx.cli.app import main; sys.argv=sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run(
        [sys.executable, "-c", code, "nnx", "data=image_folder", f"data.path={root}", "data.cache=none",
         f"data.workers={workers}", *CNN, "trainer.max_epochs=1", "tracking=none", f"output_dir={out}",
         "trainer.progress=false", "trainer.accelerator=cpu"],
        capture_output=True, text=True, check=True)
    own, children = (int(v) for v in done.stdout.rsplit("PEAK", 1)[1].split())
    return own / 1024, children / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f}, {args.workers} workers", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        root = write_image_folder(tmp / "small", args.images // len(CLASSES), CLASSES, (28,), mixed=False)
        w = f"data.workers={args.workers}"

        # 1. Throughput against the hand-written torchvision loop.
        _, objects, timer = nnx_run(root, tmp / "o1", "data.cache=none", w, *CNN)
        n_train = len(objects["splits"].train[1])
        nnx_rate = n_train * EPOCHS / sum(timer.seconds)
        model = objects["recipe"].model.build(objects["splits"].spec)
        hand = hand_loop(root, args.workers, model)
        hand_rate = args.images * EPOCHS / sum(hand)
        print(f"throughput  nnx {nnx_rate:,.0f} images/s  hand ImageFolder loop {hand_rate:,.0f} "
              f"images/s  ratio {nnx_rate / hand_rate:.2f}x (target >= 0.9x)", flush=True)

        # 2. Caches: epochs after the first.
        flip = "data.augment=[horizontal_flip]"
        _, _, none = nnx_run(root, tmp / "o2", "data.cache=none", flip, w, *CNN)
        _, _, memory = nnx_run(root, tmp / "o3", "data.cache=memory", flip, w, *CNN)
        _, _, fast = nnx_run(root, tmp / "o4", "data.cache=memory", w, *CNN)
        later = lambda t: sum(t.seconds[1:]) / len(t.seconds[1:])  # noqa: E731
        print(f"caches      epoch 2+: decode {later(none):.2f}s  cache=memory + flip "
              f"{later(memory):.2f}s ({later(none) / later(memory):.1f}x)  in-memory fast path "
              f"{later(fast):.2f}s ({later(none) / later(fast):.1f}x) (target >= 3x); first epochs "
              f"{none.seconds[0]:.2f}s / {memory.seconds[0]:.2f}s / {fast.seconds[0]:.2f}s", flush=True)

        # 2b. The input pipeline alone (no model): what the caches save.
        pipeline = {}
        for cache in ("none", "memory"):
            splits = objects["recipe"].data.plugin(to_dataclass(
                {"path": str(root), "cache": cache, "augment": ["horizontal_flip"],
                 "workers": args.workers}, objects["recipe"].data.plugin.config, "data"))
            x, y = splits.train  # cache=memory: in memory, augmented batch by batch
            batches = (StreamBatches(x, BATCH, "cpu", shuffle=True) if is_stream(x)
                       else IndexBatches(x, y, BATCH, shuffle=True, fused=1))
            pipeline[cache] = [_epoch_seconds(batches) for _ in range(EPOCHS)]
        decode, cached = pipeline["none"][1:], pipeline["memory"][1:]
        print(f"pipeline    batches only, epoch 2+: decode {sum(decode) / len(decode):.2f}s  "
              f"cache=memory {sum(cached) / len(cached):.2f}s "
              f"({sum(decode) / sum(cached):.1f}x, target >= 3x)", flush=True)

        # 3. Peak memory, streaming, as the folder grows.
        small = peak_memory(root, tmp / "o5", args.workers)
        large_root = write_image_folder(tmp / "large", args.large // len(CLASSES), CLASSES, (28,),
                                        mixed=False)
        large = peak_memory(large_root, tmp / "o6", args.workers)
        print(f"memory      cache=none peak RSS {args.images:,} images {small[0]:,.0f} MiB "
              f"(workers {small[1]:,.0f}), {args.large:,} images {large[0]:,.0f} MiB (workers "
              f"{large[1]:,.0f}): {large[0] / small[0]:.2f}x for {args.large / args.images:.0f}x "
              "the images (target < 4x)", flush=True)

        # 4. resnet18 from a local file, frozen then unfrozen.
        weights = tmp / "resnet18.pt"
        import torchvision

        torch.save(torchvision.models.resnet18().state_dict(), weights)
        subset = write_image_folder(tmp / "sub", 50, CLASSES[:4], (28,), mixed=False)
        started = time.perf_counter()
        metrics, objects, _ = nnx_run(
            subset, tmp / "o7", "model=torchvision", f"model.weights={weights}", "data.image_size=[32]",
            "model.freeze_backbone_epochs=1", "optimizer.backbone_lr_scale=0.1", "data.normalize=imagenet",
            w, epochs=1)
        print(f"resnet18    200 images 32x32: frozen phase test/acc {metrics['frozen/test/acc']:.3f}, "
              f"unfrozen test/acc {metrics['test/acc']:.3f}; {time.perf_counter() - started:.1f}s "
              f"with {sum(p.numel() for p in objects['model'].parameters()):,} parameters", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
