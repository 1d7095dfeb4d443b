"""The LightningModule for the data's task: the data config says regression or binary, the model config the network.

Both model configs name this function, so `data=csv data.task=binary` gets a classifier and `data.task=regression`
a regressor whatever the experiment's model settings are.
"""

from __future__ import annotations

from src.config import TASKS
from src.errors import UserError
from src.models.classifier import BinaryClassifier
from src.models.regressor import Regressor
from src.models.tabular_module import TabularModule

def model_for_task(task: str, n_features: int, threshold: float = 0.5, **settings) -> TabularModule:
    if task == "regression":
        return Regressor(n_features, **settings)  # a decision threshold means nothing for a regressor
    if task == "binary":
        return BinaryClassifier(n_features, threshold=threshold, **settings)
    raise UserError(f"data.task must be one of {', '.join(TASKS)}; got {task!r}")
