"""Trainer flags keep Lightning's meaning in the default (fast) path.

Each test trains the project's model twice from the same initial weights on the same mini-batches: once in the
default path (a whole epoch per Lightning step, manual optimization, src/models/fast_steps.py) and once as a plain
LightningModule under Lightning's own automatic optimization, one mini-batch per step. Then it compares what the
flag decides: the weights, the steps at which validation runs, what the profiler and the summary report.
"""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from src.models.fast_steps import build_trainer
from src.train import build_datamodule, build_model
from tests.conftest import compose_config

EPOCHS = 3
QUIET = {"logger": False, "enable_checkpointing": False, "enable_model_summary": False, "plugins": []}


class Automatic(L.LightningModule):
    """Lightning's own automatic optimization of a copy of the project's model: one mini-batch per step."""

    def __init__(self, model, lr: float) -> None:
        super().__init__()
        self.inner, self.lr = model, lr

    def training_step(self, group, batch_idx):
        ((x, y),) = group  # the DataModule with data.steps_per_execution=1: a group of one mini-batch
        return self.inner.loss(self.inner(x), y)

    def validation_step(self, group, batch_idx):
        ((x, y),) = group
        self.log("val_loss", self.inner.loss(self.inner(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class ValidationSteps(Callback):
    def __init__(self) -> None:
        self.at: list[tuple[int, int]] = []  # (epoch, global step) of every validation

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.at.append((trainer.current_epoch, trainer.global_step))


def setup(tmp_path, *overrides):
    cfg = compose_config(
        "experiment=cancer", f"trainer.max_epochs={EPOCHS}", "model.optimizer.lr=0.01", *overrides, output_dir=tmp_path
    )
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    return cfg, datamodule, build_model(cfg, datamodule)


def fit_both(
    tmp_path, overrides=(), lightning_flags=None, validate=False, fast_callbacks=(), reference_callbacks=(), plugins=None
):
    """(fast model, fast trainer, reference module, reference trainer) after training both from the same start."""
    quiet = {**QUIET, "plugins": (plugins or list)(), **({"precision": None} if plugins else {})}
    cfg, datamodule, model = setup(tmp_path / "fast", *overrides)
    start = copy.deepcopy(model)
    limits = {} if validate else {"limit_val_batches": 0}
    fast = build_trainer(cfg.trainer, model, callbacks=list(fast_callbacks), **quiet, **limits)
    fast.fit(model, datamodule=datamodule)

    _, ref_data, _ = setup(tmp_path / "ref", *overrides, "data.steps_per_execution=1")
    reference = Automatic(start, lr=0.01)
    flags = {} if plugins else {"precision": str(cfg.trainer.precision)}
    flags.update(lightning_flags or {})
    quiet = {**QUIET, "plugins": (plugins or list)()}
    ref_trainer = L.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        accelerator="cpu",
        enable_progress_bar=False,
        callbacks=list(reference_callbacks),
        check_val_every_n_epoch=cfg.trainer.check_val_every_n_epoch,
        val_check_interval=cfg.trainer.val_check_interval,
        num_sanity_val_steps=0,
        **quiet,
        **limits,
        **flags,
    )
    ref_trainer.fit(reference, datamodule=ref_data)
    return model, fast, reference, ref_trainer


def assert_same_weights(model, reference, atol: float) -> None:
    for (name, a), b in zip(model.net.named_parameters(), reference.inner.net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=atol, msg=name)


def max_difference(a, b) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a.net.parameters(), b.net.parameters()))


@pytest.mark.parametrize(
    "overrides, flags",
    [
        (("trainer.gradient_clip_val=0.05",), {"gradient_clip_val": 0.05}),
        (
            ("trainer.gradient_clip_val=0.002", "trainer.gradient_clip_algorithm=value"),
            {"gradient_clip_val": 0.002, "gradient_clip_algorithm": "value"},
        ),
        (("trainer.accumulate_grad_batches=3",), {"accumulate_grad_batches": 3}),  # 11 batches an epoch: 3+3+3+2
        # groups of 3 batches: accumulation windows cross Lightning steps, raw and Lightning-wrapped steps mix
        (
            ("trainer.accumulate_grad_batches=4", "trainer.gradient_clip_val=0.05", "data.steps_per_execution=3"),
            {"accumulate_grad_batches": 4, "gradient_clip_val": 0.05},
        ),
    ],
    ids=["clip-norm", "clip-value", "accumulate", "accumulate-clip-groups"],
)
def test_clipping_and_accumulation_give_lightnings_weights(tmp_path, overrides, flags):
    model, _, reference, _ = fit_both(tmp_path, overrides, flags)
    assert_same_weights(model, reference, atol=1e-6)
    _, _, plain, _ = fit_both(tmp_path / "without", (), {})
    assert max_difference(model, plain.inner) > 1e-4  # the flag changed the training: the test can fail


def test_without_flags_the_fast_path_gives_lightnings_weights(tmp_path):
    model, fast, reference, _ = fit_both(tmp_path)
    assert_same_weights(model, reference, atol=1e-6)
    assert fast.global_step == EPOCHS  # one Lightning-counted step per epoch (the group's last optimizer step)


def test_bf16_mixed_precision_trains_like_lightning_within_bf16_rounding(tmp_path):
    # Both paths run every forward under Lightning's CPU autocast; the tolerance is bf16's (8 bits of mantissa)
    # over 33 Adam steps at lr 0.01.
    model, _, reference, _ = fit_both(tmp_path, ("trainer.precision=bf16-mixed",))
    assert_same_weights(model, reference, atol=1e-3)
    _, _, full, _ = fit_both(tmp_path / "fp32")
    assert max_difference(model, full.inner) > 0  # autocast was on


def nan_loss(preds, target):
    return (preds * torch.tensor(float("nan"))).mean()


def test_detect_anomaly_names_the_operation_that_made_a_nan_gradient(tmp_path):
    for detect in (True, False):
        cfg, datamodule, model = setup(tmp_path / str(detect), f"trainer.detect_anomaly={detect}")
        model.loss = nan_loss
        trainer = build_trainer(cfg.trainer, model, callbacks=[], **QUIET, limit_val_batches=0, max_epochs=1)
        if detect:
            with pytest.raises(RuntimeError, match="returned nan values"):
                trainer.fit(model, datamodule=datamodule)
        else:
            trainer.fit(model, datamodule=datamodule)  # without the flag, the NaN goes unnoticed, as in Lightning
    reference = Automatic(copy.deepcopy(model), lr=0.01)
    reference.inner.loss = nan_loss
    _, ref_data, _ = setup(tmp_path / "ref", "data.steps_per_execution=1")
    with pytest.raises(RuntimeError, match="returned nan values"):
        L.Trainer(max_epochs=1, detect_anomaly=True, enable_progress_bar=False, **QUIET, limit_val_batches=0).fit(
            reference, datamodule=ref_data
        )


@pytest.mark.parametrize("profiler", ["SimpleProfiler", "AdvancedProfiler"])
def test_the_profiler_reports_the_same_actions(tmp_path, profiler):
    target = f"lightning.pytorch.profilers.{profiler}"
    node = f"trainer.profiler={{_target_:{target},dirpath:{tmp_path / 'fast'},filename:report}}"
    reference = getattr(__import__("lightning.pytorch.profilers", fromlist=[profiler]), profiler)(tmp_path / "ref", "report")
    fit_both(tmp_path, (node,), {"profiler": reference})
    fast_report, ref_report = ((tmp_path / run / "fit-report.txt").read_text() for run in ("fast", "ref"))
    for action in ("run_training_epoch", "run_training_batch", "training_step", "optimizer_step"):
        assert action in ref_report
        assert action in fast_report, action


def test_validation_runs_every_n_epochs_as_in_lightning(tmp_path):
    fast_steps, ref_steps = ValidationSteps(), ValidationSteps()
    fit_both(
        tmp_path,
        ("trainer.check_val_every_n_epoch=2", "trainer.max_epochs=5"),
        validate=True,
        fast_callbacks=[fast_steps],
        reference_callbacks=[ref_steps],
    )
    assert [epoch for epoch, _ in fast_steps.at] == [epoch for epoch, _ in ref_steps.at] == [1, 3]  # epochs 2 and 4 (of 5)


def test_val_check_interval_in_mini_batches_with_one_batch_per_step(tmp_path):
    fast_steps, ref_steps = ValidationSteps(), ValidationSteps()
    model, _, reference, _ = fit_both(
        tmp_path,
        ("trainer.val_check_interval=4", "data.steps_per_execution=1"),
        validate=True,
        fast_callbacks=[fast_steps],
        reference_callbacks=[ref_steps],
    )
    assert fast_steps.at == ref_steps.at
    assert [step for _, step in fast_steps.at][:2] == [4, 8]
    assert_same_weights(model, reference, atol=1e-6)


def test_model_summary_shows_the_network_and_its_parameters(tmp_path, capsys):
    cfg, datamodule, model = setup(tmp_path)
    quiet = {**QUIET, "enable_model_summary": True}
    build_trainer(cfg.trainer, model, callbacks=[], **quiet, limit_val_batches=0, max_epochs=1).fit(model, datamodule=datamodule)
    out = capsys.readouterr().out
    n_params = sum(p.numel() for p in model.net.parameters())
    assert "net" in out and "Trainable params" in out
    assert f"{n_params / 1000:.1f} K" in out  # Lightning's own rounding of the network's parameter count


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ("trainer.val_check_interval=0.5",),
            "trainer.val_check_interval=0.5 is counted in Lightning steps, and one step runs data.steps_per_execution=None",
        ),
        (
            ("trainer.precision=16-mixed",),
            "trainer.precision=16-mixed needs a GPU (trainer=gpu); on the CPU use trainer.precision=bf16-mixed",
        ),
        (("trainer.precision=64-true",), "trainer.precision must be one of 32-true, 32, bf16-mixed, 16-mixed; got '64-true'"),
        (
            ("trainer.gradient_clip_algorithm=max",),
            "trainer.gradient_clip_algorithm must be null (norm) or one of norm, value; got 'max'",
        ),
        (("trainer.accumulate_grad_batches=0",), "trainer.accumulate_grad_batches must be an integer >= 1; got 0"),
        (
            ("runner=plain", "trainer.gradient_clip_val=0.5"),
            "trainer.gradient_clip_val=0.5 is a Lightning Trainer flag; runner=plain is the lesson's loop",
        ),
        (("runner=plain", "trainer.precision=bf16-mixed"), "trainer.precision=bf16-mixed is a Lightning Trainer flag"),
        (("runner=plain", "trainer.profiler=simple"), "(use runner=lightning, or trainer.profiler=null)"),  # not None
        # the lesson's loop keeps and stops on the lowest val_loss: another monitor was ignored
        (
            ("runner=plain", "callbacks.early_stopping.monitor=val_acc", "callbacks.early_stopping.mode=max"),
            "callbacks.early_stopping watches val_acc (mode=max); runner=plain is the lesson's loop, which watches val_loss",
        ),
        (("trainer.check_val_every_n_epoch=0",), "trainer.check_val_every_n_epoch must be null or an integer >= 1; got 0"),
    ],
)
def test_a_flag_whose_meaning_cannot_be_kept_is_refused_in_one_line(overrides, message):
    from src.config import validate_config
    from src.errors import UserError

    with pytest.raises(UserError) as error:
        validate_config(compose_config(*overrides))
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("max_time", ["00:00:01:30", "{minutes:1,seconds:30}"])
def test_max_time_as_a_string_or_a_dict_sets_the_trainers_time_limit(tmp_path, max_time):
    from lightning.pytorch.callbacks import Timer

    from src.config import validate_config

    cfg, _, model = setup(tmp_path, f"+trainer.max_time={max_time}")
    validate_config(cfg)  # both forms Lightning documents are accepted
    trainer = build_trainer(cfg.trainer, model, callbacks=[], **QUIET)
    (timer,) = [c for c in trainer.callbacks if isinstance(c, Timer)]
    assert timer.time_remaining("train") == 90


def test_16_mixed_scales_unscales_clips_and_steps_like_lightning(tmp_path):
    # Users get 16-mixed on a GPU only (src/config.py: bf16-mixed on the CPU), and Trainer(precision="16-mixed") on
    # the CPU falls back to bf16. Lightning's own 16-mixed plugin with a CPU GradScaler runs the same scaler path as
    # on a GPU: scale the loss, unscale before clipping, step, update the scale.
    from lightning.pytorch.plugins.precision import MixedPrecision

    def fp16():
        return [MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))]

    overrides = ("trainer.gradient_clip_val=0.05", "data.steps_per_execution=3")
    model, fast, reference, _ = fit_both(tmp_path, overrides, {"gradient_clip_val": 0.05}, plugins=fp16)
    assert fast.precision_plugin.scaler.get_scale() == reference.trainer.precision_plugin.scaler.get_scale()
    assert_same_weights(model, reference, atol=1e-3)  # fp16 rounding of the forward
    _, _, full, _ = fit_both(tmp_path / "fp32", overrides, {"gradient_clip_val": 0.05})
    assert max_difference(model, full.inner) > 0  # autocast to float16 was on


class EpochEndRates(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.scalars: list[dict] = []  # the module's latest_scalars at each epoch's end

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        self.scalars.append(dict(pl_module.latest_scalars))


def fit_with_scheduler(tmp_path, scheduler_config, epochs: int) -> tuple[EpochEndRates, int]:
    """A user's configure_optimizers: Adam at lr 0.01 and `scheduler_config(optimizer)` as its lr_scheduler; what
    was seen, and the mini-batches of an epoch."""
    cfg, datamodule, model = setup(tmp_path, f"trainer.max_epochs={epochs}")

    def configure_optimizers():
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        return {"optimizer": optimizer, "lr_scheduler": scheduler_config(optimizer)}

    model.configure_optimizers = configure_optimizers
    seen = EpochEndRates()
    build_trainer(cfg.trainer, model, callbacks=[seen], **QUIET).fit(model, datamodule=datamodule)
    return seen, datamodule.n_batches("train")


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_a_schedulers_frequency_is_kept_as_in_lightning(tmp_path, interval):
    def halve_every_second(optimizer):
        return {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5), "interval": interval, "frequency": 2}

    seen, batches = fit_with_scheduler(tmp_path, halve_every_second, epochs=4)
    if interval == "epoch":  # Lightning steps it after epochs 2 and 4; it halved the rate every epoch
        assert seen.lrs == pytest.approx([0.01, 0.005, 0.005, 0.0025])
    else:  # after every second mini-batch, counted from each epoch's start as Lightning's batch_idx
        assert batches % 2 == 1 and seen.lrs == pytest.approx([0.01 * 0.5 ** (batches // 2 * epoch) for epoch in (1, 2, 3, 4)])


def test_reduce_lr_on_plateau_is_refused_in_one_line(tmp_path):
    from src.errors import UserError

    def on_plateau(optimizer):  # it crashed: ReduceLROnPlateau.step() missing 1 required positional argument: 'metrics'
        return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer), "monitor": "val_loss"}

    with pytest.raises(UserError, match=r"^configure_optimizers returns a ReduceLROnPlateau, which the fast steps cannot"):
        fit_with_scheduler(tmp_path, on_plateau, epochs=2)


def test_latest_scalars_hold_only_what_the_latest_epoch_computed(tmp_path):
    # every validation metric at epoch 1 (and 11, 21, ...), only the losses in between: no stale val_acc beside them
    cfg, datamodule, model = setup(tmp_path)
    seen = EpochEndRates()
    build_trainer(cfg.trainer, model, callbacks=[seen], **QUIET).fit(model, datamodule=datamodule)
    assert {"train_loss", "val_loss", "val_acc", "val_auroc"} <= set(seen.scalars[0])
    assert [set(scalars) for scalars in seen.scalars[1:]] == [{"train_loss", "val_loss"}] * (EPOCHS - 1)


def test_an_epoch_cut_short_by_max_steps_reports_its_own_train_loss(make_config):
    # cancer's 11 mini-batches an epoch: max_steps=25 ends epoch 3 after 3 of them. Its train_loss was epoch 2's,
    # copied, since the epoch's loss was computed only at its last mini-batch
    from src.train import train

    result = train(make_config("+trainer.max_steps=25", "data.steps_per_execution=1", "trainer.max_epochs=100"))
    assert result.stopped_epoch == 3 and result.train_loss[2] != result.train_loss[1]
    assert result.val_loss[2] == result.val_loss[1]  # no validation in a cut epoch: the latest one's, as documented


def test_a_stop_that_waits_for_min_epochs_keeps_each_epochs_whole_train_loss(make_config):
    # EarlyStopping sets should_stop at epoch 1; Lightning trains on to min_epochs=3 with it still set
    from src.train import train

    settings = ["data.steps_per_execution=1", "trainer.max_epochs=3", "+trainer.min_epochs=3"]
    stopped = train(make_config(*settings, "+callbacks.early_stopping.stopping_threshold=10", subdir="stopped"))
    whole = train(make_config(*settings, subdir="whole"))
    assert stopped.stopped_early and stopped.train_loss == whole.train_loss
