"""Is the trained model any better than a constant guess, and if not, did its ReLU units die? With the lesson's
narrow `[3, 3, 3]` regressor about one seed in five ends with a dead hidden layer, which loss curves do not show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from src.models.inference import predict_in_batches
from src.models.metrics import r2_score
from src.reporting.importance import score

CONSTANT_R2 = 0.01  # validation R2 at or below this: no better than predicting the mean
NOT_LEARNED = (
    "the model has not learned (too few epochs, or a learning rate too low to make progress or so high that training "
    "diverged) or the features do not predict the target"
)


@dataclass
class HiddenLayerActivity:
    index: int  # 1-based hidden layer
    name: str  # the ReLU's module name, e.g. net.3
    units: int
    dead: int  # units that output 0 for every validation row

    @property
    def all_dead(self) -> bool:
        return self.dead == self.units


@dataclass
class Diagnosis:
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def hidden_layer_activity(model: nn.Module, x: torch.Tensor, batch_size: int) -> list[HiddenLayerActivity]:
    """For each ReLU of the network, in order: how many of its units never output anything above 0 on x."""
    relus = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.ReLU)]
    active: dict[nn.Module, torch.Tensor] = {}

    def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        seen = (output > 0).flatten(1).any(dim=0).cpu()
        active[module] = seen if module not in active else active[module] | seen

    handles = [module.register_forward_hook(record) for _, module in relus]
    try:
        predict_in_batches(model, x, batch_size)
    finally:
        for handle in handles:
            handle.remove()
    return [
        HiddenLayerActivity(index=i, name=name, units=active[module].numel(), dead=int((~active[module]).sum()))
        for i, (name, module) in enumerate(relus, start=1)
    ]


def diagnose(
    model: nn.Module, x_val: torch.Tensor, y_val: torch.Tensor, task: str, batch_size: int, class_labels: list[str] | None = None
) -> Diagnosis:
    """Warnings (with the likely cause) when the model is no better than a constant guess or a hidden layer is dead."""
    diagnosis = Diagnosis()
    layers = hidden_layer_activity(model, x_val, batch_size)
    diagnosis.details["dead_units"] = {
        f"hidden layer {layer.index} ({layer.name})": [layer.dead, layer.units] for layer in layers
    }
    dead_layers = [layer for layer in layers if layer.all_dead]
    for layer in dead_layers:
        diagnosis.warnings.append(
            f"hidden layer {layer.index} ({layer.name}, {layer.units} units) is dead: none of its ReLU units is active "
            "on any validation row, so every layer after it sees a constant and the model predicts the same value "
            "for every row. Likely cause: the units died during training (common with narrow layers such as "
            "[3, 3, 3]); try another seed, wider layers or a lower learning rate"
        )
    cause = f"the dead hidden layer {dead_layers[0].index} ({dead_layers[0].name})" if dead_layers else NOT_LEARNED

    predicted = predict_in_batches(model, x_val, batch_size)
    threshold = float(getattr(model, "threshold", 0.5))
    warning, details = constant_guess(task, y_val.reshape(-1), predicted, threshold, class_labels, cause)
    diagnosis.details.update(details)
    diagnosis.warnings += [warning] if warning else []
    return diagnosis


def constant_guess(
    task: str, target: torch.Tensor, predicted: torch.Tensor, threshold: float, class_labels: list[str] | None, cause: str
) -> tuple[str | None, dict[str, float]]:
    """A warning when the validation predictions are no better than a constant guess (None if better), and the
    scores it is based on. `predicted`: values, the positive class's probability, or each class's."""
    if task == "regression":
        r2 = r2_score(predicted, target)
        if r2 > CONSTANT_R2:  # NaN is no better
            return None, {"val_r2": r2}
        return (
            f"no better than a constant guess: validation R2 is {r2:.4g} (<= {CONSTANT_R2}), i.e. no better than "
            f"predicting the mean for every row. Likely cause: {cause}"
        ), {"val_r2": r2}
    accuracy = score(task, target, predicted, threshold)
    counts = torch.bincount(target.long(), minlength=predicted.shape[1] if task == "multiclass" else 2)
    majority, majority_rate = int(counts.argmax()), int(counts.max()) / int(counts.sum())  # exact, as score is
    details = {"val_acc": accuracy, "majority_class_rate": majority_rate}
    if accuracy > majority_rate + 1e-9:
        return None, details
    labels = class_labels or []
    name = f"'{labels[majority]}' ({majority})" if len(labels) > majority else str(majority)
    return (
        f"no better than a constant guess: validation accuracy {accuracy:.4f} is at most the majority-class "
        f"rate {majority_rate:.4f} (always predicting class {name}). Likely cause: {cause}"
    ), details
