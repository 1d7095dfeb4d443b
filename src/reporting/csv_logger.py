"""Lightning's CSVLogger, except that a run resumed in its own folder keeps the rows already in csv/metrics.csv:
Lightning's writer deletes them, so they are read first and handed to its public `log_metrics` before anything else."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.utilities import rank_zero_only


class CSVLogger(LightningCSVLogger):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        path = Path(self.log_dir) / "metrics.csv"
        self.earlier: list[dict] | None = []
        if rank_zero_only.rank == 0 and path.is_file():
            with path.open(newline="") as file:
                self.earlier = list(csv.DictReader(file))

    @property
    def experiment(self):
        """Lightning's writer; the first time, with the earlier rows handed to it (it has deleted metrics.csv)."""
        if self.earlier is None:
            return super().experiment
        rows, self.earlier = self.earlier, None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")
            writer = super().experiment
        for row in rows:
            writer.log_metrics({k: float(v) for k, v in row.items() if v != "" and k != "step"}, step=int(float(row["step"])))
        if rows:
            writer.save()
        return writer
