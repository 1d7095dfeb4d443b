"""The task modules keep their torchmetrics out of the module tree that Lightning walks every validation run,
yet the metrics still follow the module to a device, and checkpoints hold exactly the net's weights."""

import torch

from src.models.tasks import task_module

NET = {"_target_": "src.models.nets.mlp.MLP", "hidden": [8, 4]}
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True}


def test_metrics_are_not_submodules_and_move_with_the_module():
    model = task_module(task="multiclass", net=NET, optimizer=ADAM, n_num_features=4, n_outputs=3)
    assert {name.split(".")[0] for name, _ in model.named_modules()} == {"", "net"}
    assert set(model.state_dict()) == {f"net.{key}" for key in model.net.state_dict()}
    model.to("meta")  # nn.Module.to reaches them through _apply, as it reaches submodules
    metrics = [*model.losses.values(), *model.val_metrics.values(), *model.test_metrics.values()]
    assert metrics and all(metric.device == torch.device("meta") for metric in metrics)


def test_callbacks_see_the_losses_and_what_they_monitor_not_the_full_set(make_config):
    import lightning as L

    from src.runs.fit import fit_with_lightning
    from src.train import build_datamodule, build_model

    cfg = make_config(
        "experiment=cancer",
        "trainer.max_epochs=3",
        "trainer.enable_progress_bar=false",
        "callbacks.early_stopping.monitor=val_f1",
        "callbacks.early_stopping.mode=max",
    )
    seen = {}

    class Spy(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            seen[trainer.current_epoch] = set(trainer.callback_metrics)

    datamodule = build_datamodule(cfg)
    fit_with_lightning(cfg, datamodule, build_model(cfg, datamodule), [], extra_callbacks=[Spy()])
    # epoch 1 computes every metric for the loggers; the callbacks still get only what they use
    assert sorted(seen) == [0, 1, 2] and all(keys == {"train_loss", "val_loss", "val_f1"} for keys in seen.values())
