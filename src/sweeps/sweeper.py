"""The default sweeper's shorthands (hydra_plugins/tabular_sweeps): `-m cv.folds=5` is `-m cv.folds=5
cv.fold=0,1,2,3,4` and `-m seeds=5` is `-m seed=0,1,2,3,4` (counting from `seed`); both combine with any other sweep."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig


def swept_keys(arguments: list[str]) -> set[str]:
    """The keys a command gives several values (a list, a range or a glob), not those it sets to one value."""
    return {o.key_or_group for o in OverridesParser.create().parse_overrides(arguments) if o.is_sweep_override()}


def shorthand_sweeps(config: DictConfig, arguments: list[str]) -> list[str]:
    """The sweep overrides that cv.folds and seeds stand for, unless the command sweeps cv.fold or seed itself
    (`seeds=3 seed=5` is seeds 5, 6 and 7)."""
    swept = swept_keys(arguments)
    extra = []
    cv = config.get("cv") or {}
    if cv.get("folds") and cv.get("fold") is None and "cv.fold" not in swept:
        extra.append(f"cv.fold=range(0,{cv.folds})")
    if config.get("seeds") and "seed" not in swept:
        extra.append(f"seed=range({config.seed},{config.seed + config.seeds})")
    return extra
