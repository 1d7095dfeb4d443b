"""The plain loop and Lightning on one config, side by side: `python -m src.compare [overrides]`; with
`runners=[lightning,lightgbm]`, the network beside the LightGBM baseline on the same split (src/baseline.py).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.config import check_command_line, validate_config  # importing it registers the resolvers Hydra composes with
from src.errors import UserError, user_errors_exit

RUNNERS = ("plain", "lightning", "lightgbm")  # lightgbm: its boosting rounds stand where the networks' epochs are


def compare_rows(results: dict) -> list[tuple[str, ...]]:
    """(quantity, one value per runner) rows: decisions first, then test metrics, then time."""
    runs = list(results.values())
    cells = {
        "best epoch": lambda r: str(r.best_epoch),
        "stop epoch": lambda r: str(r.stopped_epoch),
        "best val_loss": lambda r: f"{r.best_val_loss:.6e}",
        **{name: lambda r, name=name: f"{r.test[name]:.6f}" if name in r.test else "" for name in runs[0].test},
        "wall time (s)": lambda r: f"{r.wall_time_s:.2f}",
        "ms / epoch": lambda r: f"{r.ms_per_epoch:.2f}",
    }
    return [(name, *(cell(run) for run in runs)) for name, cell in cells.items()]


def compare(cfg: DictConfig) -> dict:
    from src.baseline import baseline, validate_baseline
    from src.reporting.figures import overlaid_loss_curves_figure
    from src.reporting.sweep_summary import print_table
    from src.train import train

    runners = list(cfg.runners)
    if not runners or any(r not in RUNNERS for r in runners) or len(set(runners)) != len(runners):
        raise UserError(f"runners must be a list of distinct names from {', '.join(RUNNERS)}; got {runners!r}")
    out = Path(cfg.paths.output_dir)
    run_cfgs = {}
    for runner in runners:
        network = runner != "lightgbm"
        run_cfgs[runner] = OmegaConf.merge(
            cfg, {"paths": {"output_dir": str(out / runner)}}, {"runner": runner} if network else {}
        )
        # every runner's settings are checked before the first trains: a refusal does not wait for a whole run
        if network:
            validate_config(run_cfgs[runner])
        else:
            validate_baseline(run_cfgs[runner].baseline)
    results = {}
    for runner, run_cfg in run_cfgs.items():
        results[runner] = train(run_cfg) if runner != "lightgbm" else baseline(run_cfg)
        if results[runner].interrupted:  # Ctrl+C or SIGTERM: do not start the other runner
            sys.exit(128 + signal.Signals[results[runner].interrupted_by])

    print_table(f"{cfg.name}: {' vs '.join(runners)} (seed {cfg.seed})", ["", *runners], 1, compare_rows(results))

    networks = {runner: result for runner, result in results.items() if runner != "lightgbm"}  # rounds are not epochs
    if networks:
        styles = ", ".join(f"{runner} ({style})" for runner, style in zip(networks, ["solid", "dashed"]))
        overlaid_loss_curves_figure(networks, title=f"{cfg.name}: {styles}").savefig(out / "loss_curves.png", dpi=120)
        print(f"figure: {out / 'loss_curves.png'}")
    return results


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        compare(cfg)


if __name__ == "__main__":
    check_command_line("compare")
    main()
