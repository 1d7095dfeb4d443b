"""checkpoints/last.ckpt is never older than best.ckpt: it is taken in every epoch that saved best.ckpt."""


def test_last_ckpt_is_taken_in_every_epoch_that_saved_best_ckpt(make_config):
    import lightning as L

    from src.runs.checkpoints.latest import LatestCheckpoint
    from src.runs.fit import fit_with_lightning
    from src.train import build_datamodule, build_model

    # snapshots are never due by the clock: only best.ckpt's saves (and the last epoch) make LatestCheckpoint save
    cfg = make_config("trainer.max_epochs=6", "callbacks.last_checkpoint.every_s=1e9", "model.optimizer.lr=0.01")
    seen = []

    class Spy(L.Callback):  # at each epoch's start, what the previous epoch left
        def on_train_epoch_start(self, trainer, pl_module):
            latest = next(c for c in trainer.callbacks if isinstance(c, LatestCheckpoint))
            seen.append((trainer.current_epoch, float(trainer.checkpoint_callback.best_model_score or 0), latest.epoch))

    datamodule = build_datamodule(cfg)
    fit_with_lightning(cfg, datamodule, build_model(cfg, datamodule), [], extra_callbacks=[Spy()])
    improved = [epoch for (epoch, score, _), (_, before, _) in zip(seen[1:], seen) if score != before]
    assert len(improved) >= 2  # a few new bests after the first epoch
    for epoch, _, latest_epoch in seen[1:]:
        if epoch in improved:
            assert latest_epoch == epoch  # the snapshot of the epoch (1-based) that saved a new best
