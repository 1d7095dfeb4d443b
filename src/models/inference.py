"""A model's outputs for many rows: what the test report, eval and predict need."""

from __future__ import annotations

import torch
from torch import nn


def predict_in_batches(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """One prediction per row, in eval mode without gradients: `(rows,)`, or `(rows, n_classes)` for multiclass."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model.predict(batch.to(device)) for batch in x.split(batch_size)]).squeeze(1).cpu()
    finally:
        model.train(was_training)
