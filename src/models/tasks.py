"""The LightningModule for each task: loss, metrics and how the net's outputs become predictions.
`model._target_: src.models.tasks.task_module` picks it by the data's task, so one model config serves every dataset."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from torchmetrics import MetricCollection

from src.errors import UserError, require
from src.models.metrics import task_metrics
from src.models.nets.build import check_net_settings, check_settings, net_class, project_class
from src.models.tabular_module import TabularModule

CLASS_WEIGHTS = ("balanced",)


class RegressionModule(TabularModule):
    """The lesson's regressor: a linear output trained on mean squared error. With model.standardize_target=true the
    net predicts the standardised target (as TabM's authors train) and `link` maps it back to the target's units."""

    def __init__(self, net: dict, optimizer, *, target_mean: float = 0.0, target_std: float = 1.0, **common) -> None:
        super().__init__(net, optimizer, **common)
        self.target_mean, self.target_std = float(target_mean), float(target_std)
        # gradients as for the standardised target, in any units (a loss near 1e-9 had its steps held back by Adam's eps);
        # a power of two scales exactly and leaves a target of variance near 1 as it was; reported losses keep the units
        self.loss_scale = 2.0 ** -round(math.log2(self.target_std**2))

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        if (self.target_mean, self.target_std) == (0.0, 1.0):
            return outputs  # the lesson's regressor: the outputs are the predictions, untouched
        return outputs * self.target_std + self.target_mean

    def make_metrics(self) -> MetricCollection:
        return task_metrics("regression")

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(preds, target)


class ClassifierModule(TabularModule):
    """What the classifiers share: integer targets, optional class weights (a buffer: checkpoints keep it), labels."""

    target_dtype = torch.long

    def __init__(self, net: dict, optimizer, *, class_weights: list[float] | None = None, class_labels=None, **common) -> None:
        super().__init__(net, optimizer, **common)
        self.class_labels = list(class_labels or [])
        self.register_buffer("class_weights", None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32))


class BinaryModule(ClassifierModule):
    """The lesson's binary classifier: a sigmoid, then binary cross-entropy (not BCE-with-logits: the parity tests
    hold this project to the lesson's numbers)."""

    def __init__(self, net: dict, optimizer, *, threshold: float = 0.5, **classifier) -> None:
        self.threshold = threshold  # make_metrics needs it before the base constructor returns
        super().__init__(net, optimizer, **classifier)

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(outputs)

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        device = preds.device.type
        if torch.is_autocast_enabled(device):  # CUDA's autocast refuses binary_cross_entropy: it runs in float32
            with torch.autocast(device, enabled=False):
                return self.prediction_loss(preds.float(), target.float())
        try:
            if self.class_weights is None:
                return F.binary_cross_entropy(preds, target)
            # each row weighted by its class, normalised by the weights' sum as CrossEntropyLoss(weight=...) does
            weights = self.class_weights[target.long()]
            return (weights * F.binary_cross_entropy(preds, target, reduction="none")).sum() / weights.sum()
        except RuntimeError:
            # a diverged net's NaN probabilities, which torch refuses: a NaN loss, so early stopping ends the run and
            # the best model before it is tested, as for the other tasks
            if not preds.isnan().any():
                raise
            return preds.sum() * math.nan

    def make_metrics(self) -> MetricCollection:
        return task_metrics("binary", threshold=self.threshold)


class MulticlassModule(ClassifierModule):
    """One output per class, softmax and cross-entropy on the logits."""

    def __init__(self, net: dict, optimizer, *, n_outputs: int = 3, **classifier) -> None:
        self.n_classes = n_outputs  # make_metrics needs it before the base constructor returns
        super().__init__(net, optimizer, n_outputs=n_outputs, **classifier)
        self.class_labels = self.class_labels or [str(c) for c in range(n_outputs)]

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=-1)

    def output_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if type(self).prediction_loss is not MulticlassModule.prediction_loss:  # a loss of the user's: it decides
            return super().output_loss(outputs, target)
        return F.cross_entropy(outputs, target.reshape(-1).long(), weight=self.class_weights)  # on logits: stabler

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_preds = torch.log(preds.clamp_min(torch.finfo(preds.dtype).tiny))
        return F.nll_loss(log_preds, target.reshape(-1).long(), weight=self.class_weights)

    def metric_inputs(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return preds, target.reshape(-1).long()

    def make_metrics(self) -> MetricCollection:
        return task_metrics("multiclass", n_classes=self.n_classes)


TASK_MODULES: dict[str, type[TabularModule]] = {
    "regression": RegressionModule,
    "binary": BinaryModule,
    "multiclass": MulticlassModule,
}


def balanced_class_weights(class_counts: list[int]) -> list[float]:
    """scikit-learn's compute_class_weight('balanced'): n_rows / (n_classes * rows of the class)."""
    counts = [int(c) for c in class_counts]
    if any(c == 0 for c in counts):
        raise UserError(f"model.class_weights=balanced needs every class in the training rows; class counts are {counts}")
    return [sum(counts) / (len(counts) * c) for c in counts]


def task_module(
    task: str,
    net: dict,
    optimizer: dict | Callable[..., torch.optim.Optimizer] | None,
    n_num_features: int,
    cat_cardinalities: list[int] = (),
    n_outputs: int = 1,
    lr_schedule: str | None = None,
    threshold: float = 0.5,
    class_weights: str | None = None,
    standardize_target: bool = False,
    class_counts: list[int] | None = None,
    class_labels: list[str] | None = None,
    training_rows: tuple[torch.Tensor, torch.Tensor] | None = None,
    module: str | None = None,
) -> TabularModule:
    """The module for `task`, its net built for the data's shape; `module` names a subclass of the task's module
    under `src.` (docs/extending.md). `optimizer` may be its config node (`_partial_: true`); `training_rows` (x, y)
    fit what a net learns before training, e.g. piecewise-linear bins."""
    require(task in TASK_MODULES, f"data.task must be one of {', '.join(TASK_MODULES)}; got {task!r}")
    modules = {**TASK_MODULES, task: own_module(module, task)} if module is not None else TASK_MODULES
    if isinstance(optimizer, dict):
        optimizer = instantiate(optimizer)
    optimizer = checked_optimizer(optimizer)
    net = dict(net)
    net_type = net_class(net.get("_target_"))
    check_net_settings(net_type, net)  # a misspelt key is refused before the work of fitting
    fit = getattr(net_type, "fit_to_training_rows", None)
    if fit is not None and training_rows is not None:
        net.update(fit(training_rows[0][:, :n_num_features], net, training_rows[1], task))
    common = dict(net=net, optimizer=optimizer, n_num_features=n_num_features, n_outputs=n_outputs, lr_schedule=lr_schedule)
    common["cat_cardinalities"] = list(cat_cardinalities)
    if task != "binary" and threshold != 0.5:  # a regressor's values and a multiclass argmax have no threshold
        raise UserError(f"model.threshold applies to binary classification; data.task is {task} (got {threshold!r})")
    if task == "regression":
        if class_weights is not None:
            raise UserError(f"model.class_weights applies to classification; data.task is regression (got {class_weights!r})")
        if standardize_target and training_rows is not None:
            y = training_rows[1].double()
            common.update(target_mean=y.mean().item(), target_std=y.std().clamp_min(1e-12).item())
        return modules[task](**common)
    if class_weights is not None:
        if class_weights not in CLASS_WEIGHTS:
            raise UserError(f"model.class_weights must be null or one of {', '.join(CLASS_WEIGHTS)}; got {class_weights!r}")
        if class_counts is None:
            raise UserError("model.class_weights=balanced needs the training rows' class counts; the data gives none")
        class_weights = balanced_class_weights(class_counts)
    if task == "binary":
        common["threshold"] = threshold
    return modules[task](**common, class_weights=class_weights, class_labels=class_labels)


def checked_optimizer(factory):
    """The optimizer's factory (`_partial_: true`) with arguments the optimizer takes, refused before training if not;
    the default config's zero weight_decay is dropped for an optimizer without one (Rprop)."""
    if not isinstance(factory, functools.partial):
        return factory
    takes = inspect.signature(factory.func).parameters
    keywords = {k: v for k, v in factory.keywords.items() if k in takes or (k, v) != ("weight_decay", 0)}
    unknown = [k for k in keywords if k not in takes]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in takes.values()):
        raise UserError(
            f"model.optimizer.{unknown[0]} is not a setting of {factory.func.__name__}, which takes "
            f"{', '.join(k for k in takes if k != 'params')}"
        )
    return functools.partial(factory.func, *factory.args, **keywords)


def own_module(name: str, task: str) -> type[TabularModule]:
    expected = TASK_MODULES[task]
    cls = project_class(name, "model.module") if name.startswith("src.") else None
    if not (isinstance(cls, type) and issubclass(cls, expected)):
        raise UserError(
            f"model.module must name a subclass of {expected.__module__}.{expected.__name__} under src.; got {name!r}"
        )
    return cls


def build_for_data(model_config, datamodule) -> TabularModule:
    """The `model` config node built for a set-up DataModule: its task, its input shape, its training rows."""
    filled_in = {
        "task": datamodule.task,
        "n_num_features": datamodule.n_num_features,
        "cat_cardinalities": list(datamodule.cat_cardinalities),
        "n_outputs": datamodule.n_outputs,
        "class_counts": list(datamodule.class_counts),  # a regressor takes neither
        "class_labels": list(datamodule.class_labels),
        "training_rows": datamodule.splits["train"],  # e.g. piecewise-linear bins are fitted on these rows only
    }
    check_settings(get_object(model_config._target_), model_config, "model", model_config._target_, tuple(filled_in))
    try:
        return instantiate(model_config, **filled_in, _convert_="all")
    except InstantiationException as exc:  # Hydra wraps what the constructor raised, in one line without its place
        if exc.__cause__ is not None:  # a user's mistake stays one line; a bug in a net shows its file and line
            raise exc.__cause__ from None
        raise
