"""Nets and trees blended: `python -m src.blend experiment=housing_best baseline.trials=50`. Trains `networks` networks
(the i-th on seed + 1000 i) and LightGBM on one split, blended with weights fit on validation (src.ensemble combine=blend).
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.config import check_command_line, validate_config  # importing it registers the resolvers Hydra composes with
from src.errors import UserError, require_int, user_errors_exit


def blend(cfg: DictConfig) -> dict:
    from src.baseline import baseline, validate_baseline
    from src.ensemble import ensemble
    from src.train import train

    validate_config(cfg)
    validate_baseline(cfg.baseline)
    networks = cfg.networks
    require_int("networks", networks, why=" (how many network runs the blend trains)")
    start = time.perf_counter()
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    names = ["network"] if networks == 1 else [f"network_{i}" for i in range(networks)]
    members = {name: (out_dir / "members" / name, train, cfg.seed + 1000 * i) for i, name in enumerate(names)}
    members["lightgbm"] = (out_dir / "members" / "lightgbm", baseline, cfg.seed)
    for kind, (folder, fit, seed) in members.items():
        result = fit(OmegaConf.merge(cfg, {"paths": {"output_dir": str(folder)}, "seed": seed}))  # a copy: its folder, its seed
        if result.interrupted:
            sys.exit(128 + signal.Signals[result.interrupted_by])  # as src.train: 130 for SIGINT, 143 for SIGTERM
        if not math.isfinite(result.best_val_loss):
            raise UserError(f"the {kind} run of the blend ({folder}) has no finite validation loss to blend")
    runs = [str(folder) for folder, _, _ in members.values()]
    settings = {"runs": runs, "combine": "blend", "paths": {"output_dir": str(out_dir)}}
    return ensemble(OmegaConf.create({**settings, "data_home": None, "download": None, "data_path": None}), started_at=start)


@hydra.main(version_base="1.3", config_path="../conf", config_name="blend")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        blend(cfg)


if __name__ == "__main__":
    check_command_line("blend")
    main()
