"""A deep ensemble of trained runs: `python -m src.ensemble runs=logs/housing/multiruns/<time>` (or runs=[dir,dir,...]).

Each run's best checkpoint is rebuilt with the data settings it carries (as `src.eval` does), predicts the test
split, and the ensemble predicts the mean (regression: the values; classification: the probabilities). The
ensemble's test metrics are reported beside each member's, into logs/ensemble/<time>/metrics.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.errors import UserError, user_errors_exit

SPLIT_KEYS = ("name", "path", "feature_names", "target_name", "test_fraction", "val_fraction", "random_state")


@dataclass
class Member:
    checkpoint: Path
    epoch: int
    predicted: np.ndarray  # test predictions in split order (binary: probabilities of class 1)
    test: dict[str, float]


def best_checkpoints(runs: list[str]) -> list[Path]:
    """checkpoints/best.ckpt of each run folder given, or of each job folder of a multirun; a .ckpt as it is."""
    found = []
    for entry in map(Path, runs):
        if entry.is_file():
            found.append(entry)
        elif (entry / "checkpoints" / "best.ckpt").is_file():
            found.append(entry / "checkpoints" / "best.ckpt")
        elif entry.is_dir():
            jobs = sorted(entry.glob("*/checkpoints/best.ckpt"), key=lambda p: (len(p.parent.parent.name), p.parent.parent.name))
            if not jobs:
                raise UserError(f"runs: {entry} holds no run with checkpoints/best.ckpt (give run folders or a multirun folder)")
            found.extend(jobs)
        else:
            raise UserError(f"runs: no such run folder or checkpoint: {entry}")
    return found


def member_predictions(saved, data_home: str | None, download: bool | None, data_path: str | None):
    """The member's test predictions and metrics, on the test split its own checkpoint describes."""
    from src.models.inference import predict_in_batches
    from src.runs.checkpoints.read import check_table_file

    datamodule = saved.build_datamodule(data_home=data_home, download=download, path=data_path)
    check_table_file(datamodule, data_path)
    datamodule.setup("test")
    x_test, y_test = datamodule.splits["test"]
    predicted = predict_in_batches(saved.model, x_test, datamodule.batch_size).numpy().astype(np.float64)
    return predicted, y_test.reshape(-1).numpy().astype(np.float64), datamodule


def ensemble(cfg: DictConfig) -> dict:
    """Rebuild every member, average their test predictions, write metrics.json and the ensemble's report."""
    from src.reporting.prediction_metrics import metrics_from_predictions
    from src.reporting.report import write_prediction_report
    from src.reporting.results import write_json
    from src.runs.checkpoints.read import load_saved_run

    runs = cfg.runs if OmegaConf.is_list(cfg.runs) or isinstance(cfg.runs, list) else [cfg.runs]
    if not runs or runs[0] is None:
        raise UserError("runs is required: a multirun folder or a list of run folders, e.g. runs=logs/housing/multiruns/<time>")
    checkpoints = best_checkpoints([str(r) for r in runs])
    members, actual, first = [], None, None
    for checkpoint in checkpoints:
        saved = load_saved_run(checkpoint)
        if first is None:
            first = saved
        differing = [k for k in SPLIT_KEYS if saved.data_state.get(k) != first.data_state.get(k)]
        if differing:
            raise UserError(
                f"{checkpoint} was trained on other data or another split than {first.path} ({', '.join(differing)} differ); "
                "an ensemble averages predictions of the same test rows"
            )
        predicted, y, datamodule = member_predictions(saved, cfg.data_home, cfg.download, cfg.data_path)
        actual = y if actual is None else actual
        threshold = float(getattr(saved.model, "threshold", 0.5) or 0.5)
        test, _ = metrics_from_predictions(saved.task, actual, predicted, threshold)
        members.append(Member(checkpoint, saved.epoch, predicted, test))

    mean_prediction = np.mean([m.predicted for m in members], axis=0)
    test, matrices = metrics_from_predictions(first.task, actual, mean_prediction, threshold, list(datamodule.class_labels))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_prediction_report(
        out_dir, actual, mean_prediction, first.task, datamodule.target_name, list(datamodule.class_labels), threshold, matrices
    )
    member_means = {name: float(np.mean([m.test[name] for m in members])) for name in test}
    metrics = {
        "data": first.data_state.get("name"),
        "n_members": len(members),
        "test": test,
        "matrices": matrices,
        "members": [{"checkpoint": str(m.checkpoint), "epoch": m.epoch, "test": m.test} for m in members],
        "members_mean": member_means,
    }
    write_json(out_dir / "metrics.json", metrics)
    print_ensemble_table(metrics, title=f"deep ensemble of {len(members)} runs, test split — {out_dir}")
    return metrics


def print_ensemble_table(metrics: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    names = list(metrics["test"])
    table = Table(title=title)
    for column in ("model", *names):
        table.add_column(column, justify="left" if column == "model" else "right")
    for i, member in enumerate(metrics["members"], start=1):
        run = Path(member["checkpoint"]).parent.parent.name
        table.add_row(f"member {i} ({run}, epoch {member['epoch']})", *(f"{member['test'][n]:.4f}" for n in names))
    table.add_row("mean of members", *(f"{metrics['members_mean'][n]:.4f}" for n in names))
    table.add_row("ensemble (mean prediction)", *(f"{metrics['test'][n]:.4f}" for n in names), style="bold")
    Console().print(table)


@hydra.main(version_base="1.3", config_path="../conf", config_name="ensemble")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        ensemble(cfg)


if __name__ == "__main__":
    main()
