"""Several seeds (``eval.seeds=N`` or a list): the same config trained once per seed, mean ± std.

One seed's score is one draw: initial weights, batch order and dropout all follow the seed.
This strategy trains the config once per seed with the strategy it would use alone (one
model, or k folds with ``eval.folds``), each as an MLflow child run ``seed-<s>`` of a
parent run that logs every metric's mean and std over the seeds, as k-fold does over folds.
The mean is what the run returns, so a sweep optimises it (sweep -> trial -> seed -> fold).
The data and its splits are the same for every seed (they follow ``split_seed``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nnx.config.identity import plugin_tags
from nnx.config.recipe import Recipe
from nnx.data.spec import Splits
from nnx.errors import ConfigValueError
from nnx.tracking.params import flatten
from nnx.tracking.tracker import Tracker
from nnx.training.evaluation import dataset_inputs
from nnx.training.fit import fit
from nnx.training.kfold import cross_validate, record_group

__all__ = ["seed_recipe", "over_seeds"]

SEED_TAG = "nnx.seed"


def seed_recipe(recipe: Recipe, seed: int, output_dir: Path) -> Recipe:
    """The recipe with ``seed`` and its own output folder, in its config too (what is logged)."""
    run = dataclasses.replace(recipe.run, seed=seed, output_dir=str(output_dir),
                              eval=dataclasses.replace(recipe.run.eval, seeds=None))
    config = {**recipe.config, "seed": seed, "output_dir": str(output_dir),
              "eval": {**recipe.config.get("eval", {}), "seeds": None}}
    return dataclasses.replace(recipe, run=run, config=config)


def over_seeds(
    recipe: Recipe, splits: Splits, tracker: Tracker, tags: dict[str, str], *,
    callbacks: Sequence[Any] = (), resume: Any = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train with each seed (alone or cross-validated); return mean ± std and the objects.

    ``tracker`` holds the parent run; each seed is its child (and each fold the seed's).
    """
    import pytorch_lightning as pl

    if resume is not None:
        raise ConfigValueError("resume", str(resume.run_dir), "a run without eval.seeds "
                               "(a multi-seed run restarts; it cannot be continued)")
    seeds = recipe.run.eval.seed_list(recipe.run.seed)
    output_dir = Path(recipe.run.output_dir)
    per_seed: dict[str, dict[str, float]] = {}
    histories: dict[str, list[dict[str, float]]] = {}
    tags = {**plugin_tags(recipe), **tags, "nnx.seeds": " ".join(map(str, seeds))}
    with tracker.active(flatten(recipe.config), tags):
        tracker.log_text(OmegaConf.to_yaml(recipe.config), "config.yaml")
        if tracker.run_id:
            tracker.log_datasets(dataset_inputs(recipe, splits))
        for seed in seeds:
            one = seed_recipe(recipe, seed, output_dir / f"seed-{seed}")
            child, child_tags = tracker.child(f"seed-{seed}"), {SEED_TAG: str(seed)}
            pl.seed_everything(seed, workers=True, verbose=False)
            if one.run.eval.cross_validate:
                metrics, objects = cross_validate(one, splits, child, child_tags, callbacks=callbacks)
            else:
                metrics, objects = fit(one, splits, child, child_tags, callbacks=callbacks)
            per_seed[f"seed {seed}"] = metrics
            histories[f"seed {seed}"] = objects["history"]
        summary = record_group(tracker, recipe, f"seeds: {len(seeds)} ({', '.join(map(str, seeds))})",
                               per_seed, histories, "seeds.txt", rank=objects["trainer"].global_rank)
    return summary, {**objects, "recipe": recipe, "tracker": tracker, "seeds": per_seed,
                     "histories": histories}
