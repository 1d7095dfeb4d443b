"""The Lightning behaviour the project relies on where Lightning has no public API: an upgrade that changes it fails
here, next to the comment in the source that says why it is used."""

import logging
import signal

import lightning as L
import pytest

from src.runs.stop_on_signal import LIGHTNING_SIGNAL_LOGGER, lightnings_sigterm_handler


@pytest.mark.skipif(not hasattr(signal, "SIGUSR2"), reason="Lightning registers no SIGTERM handler on Windows")
def test_lightnings_sigterm_handler_asks_for_a_stop_after_the_step_and_logs_it(caplog):
    # src/runs/stop_on_signal.py hands Ctrl+C to the handler Trainer.fit registers for SIGTERM
    seen = {}

    class Probe(L.Callback):
        def on_train_start(self, trainer, pl_module):
            handler = lightnings_sigterm_handler()
            lightnings_logger = logging.getLogger(LIGHTNING_SIGNAL_LOGGER)
            filters, lightnings_logger.filters = lightnings_logger.filters, []  # as Lightning logs it, unfiltered
            try:
                with caplog.at_level(logging.INFO, logger=LIGHTNING_SIGNAL_LOGGER):
                    handler(signal.SIGINT, None)
            finally:
                lightnings_logger.filters = filters
            seen["received_sigterm"] = trainer.received_sigterm

    from lightning.pytorch.demos.boring_classes import BoringModel

    model = BoringModel()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[Probe()],
    )
    with pytest.raises(SystemExit):  # Lightning's SIGTERMException, after the step
        trainer.fit(model)
    assert seen == {"received_sigterm": True}
    assert any("Received SIGTERM" in r.getMessage() and r.name == LIGHTNING_SIGNAL_LOGGER for r in caplog.records)
