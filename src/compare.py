"""Run the plain loop and Lightning on one config and put them side by side: `python -m src.compare [overrides]`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.errors import user_errors_exit
from src.runs.run_dir import register_resolvers

register_resolvers()  # conf/compare.yaml builds on conf/train.yaml, whose hydra settings call them

RUNNERS = ("plain", "lightning")


def compare_rows(results: dict) -> list[tuple[str, ...]]:
    """(quantity, plain, lightning) rows: decisions first, then test metrics, then time."""
    plain, lightning = results["plain"], results["lightning"]
    rows = [
        ("best epoch", str(plain.best_epoch), str(lightning.best_epoch)),
        ("stop epoch", str(plain.stopped_epoch), str(lightning.stopped_epoch)),
        ("best val_loss", f"{plain.best_val_loss:.6e}", f"{lightning.best_val_loss:.6e}"),
    ]
    rows += [(name, f"{plain.test[name]:.6f}", f"{lightning.test[name]:.6f}") for name in plain.test]
    rows += [
        ("wall time (s)", f"{plain.wall_time_s:.2f}", f"{lightning.wall_time_s:.2f}"),
        ("ms / epoch", f"{plain.ms_per_epoch:.2f}", f"{lightning.ms_per_epoch:.2f}"),
    ]
    return rows


def compare(cfg: DictConfig) -> dict:
    from rich.console import Console
    from rich.table import Table

    from src.reporting.figures import overlaid_loss_curves_figure
    from src.train import train

    out = Path(cfg.paths.output_dir)
    results = {}
    for runner in RUNNERS:
        run_cfg = cfg.copy()
        OmegaConf.update(run_cfg, "runner", runner)
        OmegaConf.update(run_cfg, "paths.output_dir", str(out / runner))
        results[runner] = train(run_cfg)
        if results[runner].interrupted:  # Ctrl+C or SIGTERM: do not start the other runner
            sys.exit(128 + signal.Signals[results[runner].interrupted_by])

    table = Table(title=f"{cfg.name}: the plain loop vs Lightning (seed {cfg.seed})")
    for column in ("", *RUNNERS):
        table.add_column(column, justify="right" if column else "left")
    for row in compare_rows(results):
        table.add_row(*row)
    Console().print(table)

    figure = overlaid_loss_curves_figure(results, title=f"{cfg.name}: plain loop (solid) vs Lightning (dashed)")
    figure.savefig(out / "loss_curves.png", dpi=120)
    print(f"figure: {out / 'loss_curves.png'}")
    return results


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        compare(cfg)


if __name__ == "__main__":
    main()
