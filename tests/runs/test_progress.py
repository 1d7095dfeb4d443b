"""The progress bar says how training goes: epoch from 1, losses, best val_loss, epochs left, batches/s, ETA."""

import io
import re

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping

from src.models.fast_steps import build_trainer
from src.runs.progress import EpochProgressBar
from src.train import build_datamodule, build_model
from tests.conftest import compose_config


def test_the_bar_ticks_once_an_epoch_with_losses_best_patience_rate_and_eta(tmp_path):
    cfg = compose_config("trainer.max_epochs=6", "trainer.enable_progress_bar=true", output_dir=tmp_path)
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    text = io.StringIO()
    bar = EpochProgressBar(refresh_s=0, file=text)
    callbacks = [bar, EarlyStopping(monitor="val_loss", patience=50)]
    build_trainer(
        cfg.trainer, model, callbacks=callbacks, logger=False, enable_checkpointing=False, enable_model_summary=False, plugins=[]
    ).fit(model, datamodule=datamodule)
    lines = [line.strip() for line in re.split(r"[\r\n]+", text.getvalue()) if line.strip()]
    epochs = [int(m.group(1)) for line in lines if (m := re.match(r"Epoch (\d+)/6 ", line))]
    assert epochs[0] == 0 and epochs[-1] == 6
    assert sorted(set(epochs)) == list(range(7))  # one tick an epoch, counted from 1 out of max_epochs
    last = lines[-1]
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d\]", last), last  # elapsed < ETA
    match = re.search(r"train_loss (\S+) · val_loss (\S+) · best (\S+) @ (\d) · stop in (\d+) · (\d+) batches/s", last)
    assert match, last
    history = [float(v) for v in (match.group(2), match.group(3))]
    assert history[1] <= history[0]
    patience_left = 50 - (6 - int(match.group(4)))
    assert int(match.group(5)) == patience_left
    assert int(match.group(6)) > 0  # 11 mini-batches an epoch, counted as mini-batches, not Lightning steps
