"""A checkpoint's test loss computed outside the run, from its weights alone."""

import torch


def evaluate_test_loss(checkpoint_path, cfg) -> float:
    from src.train import build_datamodule, build_model

    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    model.load_state_dict(torch.load(checkpoint_path, weights_only=True)["state_dict"])
    model.eval()
    with torch.no_grad():
        model.evaluate_batches(datamodule.eval_batches("test"), "test")
        return model.epoch_results("test")["test_loss"]
