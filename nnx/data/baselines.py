"""The baseline to beat: what a trivial predictor outputs on the same test split.

A model is worth its training only if it beats these. Each is fitted on the training split
alone and gives raw outputs shaped like a model's, so that every metric of the run scores it
the same way (``test/baseline_f1`` beside ``test/f1``): the training split's class
frequencies for classification (its majority class as labels), the training targets' mean for
regression and, for forecasts, also the last value of each window.
"""

from __future__ import annotations

import torch

from nnx.data.spec import Splits

__all__ = ["trivial_outputs"]


def trivial_outputs(splits: Splits) -> dict[str, torch.Tensor]:
    """Raw outputs of trivial predictors on ``splits.test``, by metric-name prefix.

    ``baseline_``: class log-frequencies (a logit for binary targets) or the training mean;
    ``baseline_last_`` (forecasts only): each window's last value.
    """
    spec = splits.spec
    y_train, (x_test, y_test) = splits.train[1].cpu(), splits.test
    count = len(y_test)
    if count == 0 or len(y_train) == 0:
        return {}
    if spec.task == "classification":
        freq = torch.bincount(y_train.view(-1).long(), minlength=spec.num_classes).double()
        freq = (freq / freq.sum()).clamp_min(1e-12)
        logits = freq.log() if spec.num_outputs > 1 else (freq[1:] / freq[0]).log()
        return {"baseline_": logits.float().expand(count, spec.num_outputs)}
    mean = y_train.float().reshape(len(y_train), -1).mean(0, keepdim=True)
    found = {"baseline_": mean.expand(count, mean.shape[1])}
    if spec.forecast:
        last = x_test.float().cpu().reshape(count, -1)[:, -1:]
        found["baseline_last_"] = last.expand(count, mean.shape[1])
    return found
