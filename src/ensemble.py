"""Runs combined: `python -m src.ensemble runs=logs/housing/multiruns/<time>` (or runs=[dir,dir,...]): network and
LightGBM runs as their mean prediction and as a blend fit on the validation rows; `combine` chooses which is `test`.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.baseline import LIGHTGBM_MODEL, raw_splits
from src.config import check_command_line
from src.errors import UserError, require
from src.runs.run_dir import job_state, numbered_jobs, refused_leaves_no_folder

SPLIT_KEYS = ("name", "path", "feature_names", "target_name", "test_fraction", "val_fraction", "random_state")
COMBINE = ("mean", "blend")


@dataclass
class Member:
    source: Path  # a network run's checkpoint, or a LightGBM run's folder
    kind: str  # network | lightgbm
    epoch: int  # the network's best epoch; LightGBM's best boosting round
    predicted: dict[str, np.ndarray]  # val and test predictions in split order (binary: probabilities of class 1)
    test: dict[str, float] | None = None
    val: dict[str, float] | None = None


@dataclass
class Rows:
    """What every member must share: the data, the split, and so the same validation and test rows."""

    source: Path
    state: dict  # the DataModule's state_dict
    positions: dict[str, np.ndarray]  # table rows of each split
    actual: dict[str, np.ndarray]  # val and test targets
    task: str
    target_name: str
    class_labels: list[str]
    threshold: float


def member_sources(runs: list[str]) -> list[Path]:
    """A .ckpt as it is, a network run's checkpoints/best.ckpt, a LightGBM run's folder, or those of a multirun's jobs."""
    found = []
    for entry in map(Path, runs):
        if entry.is_file():
            found.append(entry)
        elif (entry / "checkpoints" / "best.ckpt").is_file():
            found.append(entry / "checkpoints" / "best.ckpt")
        elif (entry / LIGHTGBM_MODEL).is_file():
            found.append(entry)
        elif entry.is_dir():
            jobs = [p for p in entry.iterdir() if (p / "checkpoints" / "best.ckpt").is_file() or (p / LIGHTGBM_MODEL).is_file()]
            if not jobs:
                raise UserError(
                    f"runs: {entry} holds no run with checkpoints/best.ckpt or {LIGHTGBM_MODEL} "
                    "(give run folders or a multirun folder)"
                )
            # a best.ckpt from the middle of training: an ensemble's members are finished runs
            if unfinished := [str(job) for job in jobs if job_state(job) is not None]:
                raise UserError(
                    f"runs: jobs of {entry} did not finish (interrupted, or still training): {', '.join(sorted(unfinished))}; "
                    "resume them first, or give the finished ones (runs=[run_dir,...])"
                )
            members = [job for job in jobs if not never_finite(job)]  # the lesson's [3, 3, 3] regressor: a seed in five
            require(members, f"runs: every job of {entry} diverged (its val_loss was never finite): no member is left")
            if diverged := sorted((job.name for job in jobs if job not in members), key=lambda name: (len(name), name)):
                warnings.warn(
                    f"runs: job(s) {', '.join(diverged)} of {entry} diverged and are left out", UserWarning, stacklevel=2
                )
            found += member_sources([str(job) for job in sorted(members, key=lambda p: (len(p.name), p.name))])
            if without := [p.name for p in numbered_jobs(entry) if p not in jobs]:
                warnings.warn(  # a refused job, or one stopped before its first checkpoint: the sweep summary says which
                    f"runs: job(s) {', '.join(without)} of {entry} have no model (refused, or stopped before a checkpoint) "
                    "and are left out",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            raise UserError(f"runs: no such run folder or checkpoint: {entry}")
    return found


def never_finite(job: Path) -> bool:
    """A finished job whose val_loss was never finite: its best.ckpt predicts NaN or inf."""
    metrics = job / "metrics.json"
    return metrics.is_file() and not np.isfinite(json.loads(metrics.read_text()).get("best_val_loss", 0.0) or 0.0)


def network_member(checkpoint: Path, cfg: DictConfig) -> tuple[Member, Rows]:
    """The network's validation and test predictions, on the split its own checkpoint describes."""
    from src.models.inference import predict_in_batches
    from src.runs.checkpoints.read import load_saved_run

    saved = load_saved_run(checkpoint)
    datamodule = saved.test_datamodule(cfg)
    predicted = {
        stage: predict_in_batches(saved.model, datamodule.splits[stage][0], datamodule.batch_size).numpy().astype(np.float64)
        for stage in ("val", "test")
    }
    threshold = getattr(saved.model, "threshold", None)
    return Member(checkpoint, "network", saved.epoch, predicted), shared_rows(checkpoint, datamodule, threshold)


def lightgbm_member(run_dir: Path, cfg: DictConfig) -> tuple[Member, Rows]:
    """A LightGBM run's validation and test predictions, on the split its config.yaml describes (src.baseline)."""
    import lightgbm as lgb

    from src.runs.checkpoints.read import source_arguments
    from src.train import build_datamodule

    run_cfg = OmegaConf.load(run_dir / "config.yaml")
    source = OmegaConf.to_container(run_cfg.data.source)
    given = {"data_home": cfg.data_home, "download": cfg.download, "path": cfg.data_path}
    takes = source_arguments(source) if isinstance(source, dict) else set()
    run_cfg.data.source = {**source, **{k: v for k, v in given.items() if v is not None and k in takes}}
    if cfg.data_path is not None and "path" in takes:  # as a checkpoint's DataModule is told where its file is now
        run_cfg.data.path = cfg.data_path
    datamodule = build_datamodule(run_cfg)
    splits = raw_splits(datamodule)
    booster = lgb.Booster(model_file=str(run_dir / LIGHTGBM_MODEL))  # saved at its best round
    predicted = {stage: np.asarray(booster.predict(splits[stage].x), dtype=np.float64) for stage in ("val", "test")}
    metrics_file = run_dir / "metrics.json"
    epoch = json.loads(metrics_file.read_text()).get("best_epoch", 0) if metrics_file.is_file() else 0
    return Member(run_dir, "lightgbm", epoch, predicted), shared_rows(run_dir, datamodule, run_cfg.model.get("threshold"))


def shared_rows(source: Path, datamodule, threshold: float | None) -> Rows:
    return Rows(
        source,
        datamodule.state_dict(),
        {stage: np.asarray(datamodule.split_positions[stage]) for stage in ("val", "test")},
        {stage: datamodule.splits[stage][1].reshape(-1).numpy().astype(np.float64) for stage in ("val", "test")},
        datamodule.task,
        datamodule.target_name,
        list(datamodule.class_labels),
        float(threshold or 0.5),  # a regressor has none
    )


def check_same_rows(first: Rows, other: Rows) -> None:
    """Members of other data or another split are refused: their predictions are of other rows."""
    differing = [k for k in SPLIT_KEYS if other.state.get(k) != first.state.get(k)]
    folds = [(rows.state.get("cv") or {}).get("fold") for rows in (first, other)]
    if not differing and folds[0] != folds[1]:
        raise UserError(
            f"{other.source} and {first.source} are folds {folds[1]} and {folds[0]} of a cross-validation: they validate "
            "on different rows, and an ensemble is fit and scored on the rows its members share; combine the seeds of "
            "one fold instead (-m seeds=N cv.folds=K cv.fold=I)"
        )
    if not differing and any(not np.array_equal(first.positions[s], other.positions[s]) for s in first.positions):
        differing = ["the validation or test rows"]
    if differing:
        raise UserError(
            f"{other.source} was trained on other data or another split than {first.source} ({', '.join(differing)} "
            "differ); an ensemble combines predictions of the same rows"
        )


def blend_weights(predictions: list[np.ndarray], actual: np.ndarray, task: str) -> np.ndarray:
    """Non-negative weights summing to 1 (NNLS, the sum held by a heavily weighted extra row) minimising the squared
    error on the rows given; classifiers' probabilities against the one-hot classes (the Brier score)."""
    from scipy.optimize import nnls

    if task == "multiclass":
        columns = [p.reshape(-1) for p in predictions]
        target = np.eye(predictions[0].shape[1])[actual.astype(int)].reshape(-1)
    else:
        columns, target = list(predictions), actual
    a = np.column_stack(columns)
    heavy = 1e3 * max(float(np.linalg.norm(a)), 1.0)
    weights, _ = nnls(np.vstack([a, np.full(a.shape[1], heavy)]), np.append(target, heavy))
    if not weights.sum() > 0:
        return np.full(len(predictions), 1 / len(predictions))
    return weights / weights.sum()


def scores(rows: Rows, test: np.ndarray, val: np.ndarray) -> dict:
    """Predictions of the shared rows scored: test metrics and matrices, and validation metrics named val_*."""
    from src.reporting.prediction_metrics import metrics_from_predictions

    test_metrics, matrices = metrics_from_predictions(rows.task, rows.actual["test"], test, rows.threshold, rows.class_labels)
    val_metrics, _ = metrics_from_predictions(rows.task, rows.actual["val"], val, rows.threshold)
    val_metrics = {f"val_{name.removeprefix('test_')}": value for name, value in val_metrics.items()}
    return {"test": test_metrics, "matrices": matrices, "val": val_metrics}


def ensemble(cfg: DictConfig, started_at: float | None = None) -> dict:
    """Every member's predictions of the rows they share, combined as their mean and as the blend fit on validation;
    writes metrics.json and the chosen combination's report."""
    from src.reporting.report import write_prediction_report
    from src.reporting.results import write_json

    start = time.perf_counter() if started_at is None else started_at
    runs = cfg.runs if OmegaConf.is_list(cfg.runs) else [cfg.runs]  # runs=dir or runs=[dir,dir,...]
    if not runs or runs[0] is None:
        raise UserError("runs is required: a multirun folder or a list of run folders, e.g. runs=logs/housing/multiruns/<time>")
    combine = cfg.get("combine", "mean")
    require(combine in COMBINE, f"combine must be one of {', '.join(COMBINE)}; got {combine!r}")
    members, rows = [], None
    sources = member_sources([str(r) for r in runs])
    seen = [source.resolve() for source in sources]
    if twice := next((source for source, path in zip(sources, seen) if seen.count(path) > 1), None):
        warnings.warn(
            f"runs: {twice} is given more than once, so it counts more than once in the mean", UserWarning, stacklevel=2
        )
    for source in sources:
        member, member_rows = lightgbm_member(source, cfg) if source.is_dir() else network_member(source, cfg)
        if not all(np.isfinite(p).all() for p in member.predicted.values()):  # its val_loss was never finite
            raise UserError(f"{source} predicts NaN or inf: its run diverged; leave it out of runs (runs=[run_dir,...])")
        rows = rows or member_rows  # the first member's rows are the ones every other must share
        check_same_rows(rows, member_rows)
        member_scores = scores(rows, member.predicted["test"], member.predicted["val"])
        member.test, member.val = member_scores["test"], member_scores["val"]
        members.append(member)
    weights = blend_weights([m.predicted["val"] for m in members], rows.actual["val"], rows.task)  # validation rows only
    stages = ("test", "val")
    combined = {
        "mean": {stage: np.mean([m.predicted[stage] for m in members], axis=0) for stage in stages},
        "blend": {stage: sum(w * m.predicted[stage] for w, m in zip(weights, members)) for stage in stages},
    }
    scored = {how: scores(rows, predicted["test"], predicted["val"]) for how, predicted in combined.items()}
    test, matrices = scored[combine]["test"], scored[combine]["matrices"]
    out_dir = Path(cfg.paths.output_dir)  # the report's writes create it
    chosen = combined[combine]["test"]
    write_prediction_report(
        out_dir,
        rows.positions["test"],
        rows.actual["test"],
        chosen,
        rows.task,
        rows.target_name,
        rows.class_labels,
        rows.threshold,
        matrices,
    )
    metrics = {
        "data": rows.state.get("name"),
        "n_members": len(members),
        "combine": combine,
        "test": test,
        "matrices": matrices,
        "mean_prediction": {"test": scored["mean"]["test"], "val": scored["mean"]["val"]},
        "blend": {
            "weights": [float(w) for w in weights],
            "fit_on": "validation",
            "test": scored["blend"]["test"],
            "val": scored["blend"]["val"],  # the rows the weights were fit on: optimistic
        },
        "members": [
            {"checkpoint": str(m.source), "kind": m.kind, "epoch": m.epoch, "weight": float(w), "val": m.val, "test": m.test}
            for m, w in zip(members, weights)
        ],
        "members_mean": {name: float(np.mean([m.test[name] for m in members])) for name in test},
        "wall_time_s": time.perf_counter() - start,
    }
    write_json(out_dir / "metrics.json", metrics)
    result = "mean prediction" if combine == "mean" else "blend"  # bold in the table, which a plain log does not show
    title = f"{len(members)} run{'s' * (len(members) > 1)} combined, test split; the result is the {result} (combine={combine})"
    print_ensemble_table(metrics, title=f"{title} — {out_dir}")
    return metrics


def print_ensemble_table(metrics: dict, title: str) -> None:
    from src.reporting.results import shown_number
    from src.reporting.sweep_summary import print_table

    names = list(metrics["test"])
    rows = []
    for i, member in enumerate(metrics["members"], start=1):
        network, source = member["kind"] == "network", Path(member["checkpoint"])
        run = (source.parent.parent if network else source).name  # the run's folder: a sweep's are job numbers
        run = f"job {run}" if run.isdigit() else run
        label = f"member {i}: {member['kind']} ({run}, {'epoch' if network else 'round'} {member['epoch']})"
        rows.append([label, f"{member['weight']:.3f}", *(shown_number(member["test"][n]) for n in names)])
    rows.append(["mean of members", "", *(shown_number(metrics["members_mean"][n]) for n in names)])
    for how, label, key, weight in (
        ("mean", "mean prediction", "mean_prediction", ""),
        ("blend", "blend (weights fit on validation)", "blend", "1.000"),
    ):
        cells = [label, weight, *(shown_number(metrics[key]["test"][n]) for n in names)]
        rows.append([f"[bold]{cell}[/bold]" for cell in cells] if how == metrics["combine"] else cells)  # the one chosen
    print_table(title, ["model", "blend weight", *names], 1, rows)


@hydra.main(version_base="1.3", config_path="../conf", config_name="ensemble")
def main(cfg: DictConfig) -> None:
    with refused_leaves_no_folder():  # a refused ensemble leaves no folder under logs/
        ensemble(cfg)


if __name__ == "__main__":
    check_command_line("ensemble")
    main()
