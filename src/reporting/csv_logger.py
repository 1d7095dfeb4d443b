"""Lightning's CSVLogger, except that a run resumed in its own folder keeps the rows already in csv/metrics.csv
(Lightning's writer deletes a metrics.csv it finds, which would lose the epochs before the resume)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.utilities import rank_zero_only


class CSVLogger(LightningCSVLogger):
    @property
    def experiment(self):
        if self._experiment is not None:
            return self._experiment
        path = Path(self.log_dir) / "metrics.csv"
        earlier = path.read_bytes() if rank_zero_only.rank == 0 and path.is_file() else None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")
            writer = super().experiment  # deletes metrics.csv
        if earlier:
            path.write_bytes(earlier)
            with path.open(newline="") as file:
                writer.metrics_keys = sorted(next(csv.reader(file), []))  # later rows add their new columns to it
        return writer
