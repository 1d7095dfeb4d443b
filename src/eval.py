"""Re-evaluate a checkpoint on its test split: `python -m src.eval ckpt_path=logs/.../checkpoints/best.ckpt`. Data,
split, scaling and model are rebuilt from the checkpoint, so the report equals the training run's.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.config import check_command_line
from src.errors import UserError
from src.runs.run_dir import refused_leaves_no_folder


def evaluate(cfg: DictConfig) -> dict:
    """Rebuild, test, write metrics.json, test_predictions.csv and figures/ into the output dir; returns the metrics."""
    import torch

    from src.reporting.report import write_test_report
    from src.reporting.results import print_report, print_run_folder, write_json
    from src.runs.checkpoints.read import load_saved_run

    if cfg.ckpt_path is None:
        raise UserError("ckpt_path is required, e.g. python -m src.eval ckpt_path=logs/cancer/runs/<run>/checkpoints/best.ckpt")
    saved = load_saved_run(str(cfg.ckpt_path))
    datamodule = saved.test_datamodule(cfg)
    if datamodule.feature_names != saved.feature_names:
        raise UserError(f"the data {saved.data_state.get('name')!r} no longer has the features {saved.path} was trained on")

    with torch.no_grad():  # the same evaluation code as training's test: the loss and torchmetrics' metrics
        saved.model.evaluate_batches(datamodule.eval_batches("test"), "test")
        test, matrices = saved.model.epoch_results("test"), dict(saved.model.matrices.get("test", {}))
        if saved.model.member_outputs:  # an ensemble: each member scored alone, as training's test does
            matrices["test_members"] = saved.model.score_members(
                *(torch.cat(parts) for parts in zip(*saved.model.member_outputs))
            )
    out_dir = Path(cfg.paths.output_dir)  # the report's writes create it
    diagnosis = write_test_report(out_dir, saved.model, datamodule, matrices)
    data = cfg.get("data_path") or saved.data_state.get("name")  # the table scored: a moved file's new place
    metrics = {
        "checkpoint": str(saved.path),
        "epoch": saved.epoch,
        "data": data,
        "test": test,
        "matrices": matrices,
        "warnings": diagnosis.warnings,
        "diagnostics": diagnosis.details,
    }
    write_json(out_dir / "metrics.json", metrics)
    rows = [("checkpoint epoch", str(saved.epoch)), ("test rows", str(len(datamodule.splits["test"][0])))]
    title = f"{Path(str(data)).name} {saved.path.name} test metrics"  # a long path would wrap mid-name
    print_report(test, matrices, rows, diagnosis.details, diagnosis.warnings, title=title, class_labels=datamodule.class_labels)
    print_run_folder(out_dir)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    with refused_leaves_no_folder():  # a refused evaluation leaves no folder under logs/
        evaluate(cfg)


if __name__ == "__main__":
    check_command_line("eval")
    main()
