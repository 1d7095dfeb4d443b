"""A net from its config node (`model.net`, or the plain settings a checkpoint stores) plus the data's shape. Only
classes under `src.` are ever built, so a checkpoint cannot make us import and run someone else's code."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from src.errors import UserError, first_line, require

SHAPE_ARGUMENTS = ("n_num_features", "cat_cardinalities", "n_outputs")  # given by the data, not by the config


def net_class(target: Any) -> type[nn.Module]:
    if not isinstance(target, str) or not target.startswith("src."):
        raise UserError(
            f"model.net._target_ must name a class of this project under src. (e.g. src.models.nets.mlp.MLP); got {target!r}"
        )
    cls = project_class(target, "model.net._target_")
    require(cls is not None, f"model.net._target_ names a class this project does not have: {target}")
    require(isinstance(cls, type) and issubclass(cls, nn.Module), f"model.net._target_ must name an nn.Module; got {target}")
    return cls


def project_class(target: str, key: str) -> Any:
    """What `target` names, or None when its module or name does not exist; a module that exists but fails to
    import (a missing package, a syntax error) is named with its own error, not taken for a typo."""
    module_name, _, name = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing: its own words, in one line
        absent = isinstance(exc, ModuleNotFoundError) and f"{module_name}.".startswith(f"{exc.name}.")
        if absent:  # the target's own module, or a package above it: a name this project does not have
            return None
        raise UserError(f"{key}={target}: importing {module_name} failed: {type(exc).__name__}: {first_line(exc)}") from None
    return getattr(module, name, None)


def check_net_settings(cls: type, settings: dict) -> None:
    """The constructor takes the data's shape arguments, and every key of the net node is one of its arguments: a
    user's net that lacks one, or a typo, is a one-line error, not a TypeError."""
    check_settings(cls.__init__, settings, "model.net", f"{cls.__module__}.{cls.__qualname__}", SHAPE_ARGUMENTS, True)


def check_settings(
    function, settings: Iterable[str], node: str, name: str, filled_in: tuple[str, ...] = (), takes_filled_in: bool = False
) -> None:
    """Each key but Hydra's (`_target_`, ...) must be an argument of what the node builds (`filled_in` ones: the data's,
    which it must take too when `takes_filled_in`)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    lacks = [argument for argument in filled_in if argument not in parameters] if takes_filled_in else []
    require(
        not lacks,
        f"{node}._target_={name}: its constructor must take the arguments the template passes "
        f"({', '.join(filled_in)}, or **kwargs); it lacks {', '.join(lacks)}",
    )
    allowed = [name for name in parameters if name not in ("self", *filled_in)]
    for key in settings:
        if key not in allowed and not str(key).startswith("_"):
            # Hydra cannot delete a key whose value is null (its issue #2829): the whole node is replaced instead
            null = isinstance(settings, Mapping) and settings[key] is None
            drop = f"replace the node: '~{node}' '+{node}={{_target_: ...}}'" if null else f"drop it with ~{node}.{key}"
            raise UserError(
                f"{node}.{key} is not a setting of {name} (settings: {', '.join(allowed) or 'none'}); "
                f"if an experiment set it for something else, {drop}"
            )


def build_net(config: dict, n_num_features: int, cat_cardinalities: list[int], n_outputs: int) -> nn.Module:
    settings = {k: v for k, v in config.items() if not k.startswith("_")}
    cls = net_class(config.get("_target_"))
    check_net_settings(cls, settings)
    return cls(n_num_features=n_num_features, cat_cardinalities=list(cat_cardinalities), n_outputs=n_outputs, **settings)
