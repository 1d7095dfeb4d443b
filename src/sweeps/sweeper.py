"""The shorthands of the default sweeper (hydra_plugins/tabular_sweeps): `cv.folds=5` runs one job per fold,
`seeds=5` one job per seed.

`python -m src.train -m cv.folds=5` is `-m cv.folds=5 cv.fold=0,1,2,3,4`; `-m seeds=5` is `-m seed=0,1,2,3,4`
(counting from `seed`). Both combine with any other sweep; the sweep summary reports mean ± std over them.
"""

from __future__ import annotations

from omegaconf import DictConfig


def shorthand_sweeps(config: DictConfig, arguments: list[str]) -> list[str]:
    """The sweep overrides that cv.folds and seeds stand for, unless the command sweeps cv.fold or seed itself."""
    swept = {a.split("=")[0].lstrip("+~") for a in arguments}
    extra = []
    cv = config.get("cv") or {}
    if cv.get("folds") and cv.get("fold") is None and "cv.fold" not in swept:
        extra.append(f"cv.fold=range(0,{cv.folds})")
    if config.get("seeds") and "seed" not in swept:
        extra.append(f"seed=range({config.seed},{config.seed + config.seeds})")
    return extra
