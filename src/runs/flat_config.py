"""The run's settings as one level of `a.b.c: value` pairs: what a resumed run is compared on, and what the loggers
record as hyperparameters."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def flatten_config(cfg: DictConfig | dict, resolve: bool = True) -> dict[str, Any]:
    """Every leaf under its dotted key; lists stay lists."""
    node = OmegaConf.to_container(cfg, resolve=resolve) if isinstance(cfg, DictConfig) else cfg
    flat: dict[str, Any] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value

    walk(node, "")
    return flat


def hyperparameters(cfg: DictConfig) -> dict[str, int | float | str | bool]:
    """The settings a logger's hyperparameter table shows: plain values (lists as text), the class names (`_target_`)
    but not Hydra's other underscore keys (`_partial_`)."""
    return {
        key: value if isinstance(value, (int, float, str, bool)) else str(value)
        for key, value in flatten_config(cfg).items()
        if key.rsplit(".", 1)[-1] == "_target_" or not key.rsplit(".", 1)[-1].startswith("_")
    }
