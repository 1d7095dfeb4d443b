"""One validation step for the composed config: every mistake is reported before any work starts.

Each message names the setting, what is allowed and the bad value, on one line. Nothing here imports torch or
Lightning, so a bad override fails in about a second.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from src.errors import UserError
from src.sweeps.checks import validate_cv_and_seeds
from src.sweeps.resolvers import register_resolvers as register_sweep_resolvers

TASKS = ("regression", "binary", "multiclass")
FEATURE_TRANSFORMS = ("standard", "quantile")
NORMS = ("none", "batch", "layer")  # src/models/nets/mlp.py
CATEGORICAL = ("embedding", "onehot")  # src/models/nets/inputs.py
CLASS_WEIGHTS = ("balanced",)  # src/models/tasks.py
LR_SCHEDULES = ("cosine", "onecycle")
# torch.optim's optimizers that take a plain step() on dense gradients (tests/test_config.py keeps this list true):
# LBFGS needs a closure, SparseAdam sparse gradients, Muon 2-D parameters only.
OPTIMIZERS = (
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
)


def repeat(value, times: int) -> list:
    """`${repeat:256,3}` is [256, 256, 256]: lets a search sample a width and a depth for model.hidden."""
    return [value] * times


OmegaConf.register_new_resolver("repeat", repeat, replace=True)
register_sweep_resolvers()  # hydra.sweep.dir and the joblib launcher's n_jobs call them


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_of(value, allowed: tuple, key: str) -> None:
    _check(value in allowed, f"{key} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def validate_config(cfg: DictConfig) -> None:
    validate_run(cfg)
    validate_cv_and_seeds(cfg)
    validate_data(cfg.data)
    validate_model(cfg.model)
    validate_training(cfg)
    from src.reporting.importance import validate_importance  # the report's own settings, checked before any work

    validate_importance(cfg.get("importance"))


def validate_run(cfg: DictConfig) -> None:
    trainer = cfg.trainer
    _check(cfg.runner in ("lightning", "plain"), f"runner must be lightning or plain; got {cfg.runner!r}")
    _check(
        cfg.runner == "lightning" or str(trainer.get("devices", 1)) in ("1", "auto"),
        f"runner=plain runs in one process; got trainer.devices={trainer.get('devices')!r} (use trainer=default or trainer=gpu)",
    )
    _check(_is_int(cfg.seed), f"seed must be an integer; got {cfg.seed!r}")
    threads = cfg.torch_threads
    _check(
        threads is None or (_is_int(threads) and threads >= 1), f"torch_threads must be null or an integer >= 1; got {threads!r}"
    )


def validate_data(data: DictConfig) -> None:
    from src.data.settings import validate_data_settings

    validate_data_settings(data)


def validate_model(model: DictConfig) -> None:
    target = model.get("_target_")
    _check(
        isinstance(target, str) and target.startswith("src."),
        f"model._target_ must name a function or class of this project under src. (e.g. src.models.tasks.task_module); got {target!r}",
    )
    if "threshold" in model:
        _check(
            _is_number(model.threshold) and 0 < model.threshold < 1, f"model.threshold must be in (0, 1); got {model.threshold!r}"
        )
    weights = model.get("class_weights")
    _check(
        weights is None or weights in CLASS_WEIGHTS,
        f"model.class_weights must be null or one of {', '.join(CLASS_WEIGHTS)}; got {weights!r}",
    )
    standardize = model.get("standardize_target", False)
    _check(isinstance(standardize, bool), f"model.standardize_target must be true or false; got {standardize!r}")
    schedule = model.get("lr_schedule")
    _check(
        schedule is None or schedule in LR_SCHEDULES,
        f"model.lr_schedule must be null or one of {', '.join(LR_SCHEDULES)}; got {schedule!r}",
    )
    validate_net(model.get("net"))
    validate_optimizer(model.optimizer)


def validate_net(net) -> None:
    """The net node's target (a class under src., nothing else is ever built), then the settings the shipped nets
    share; a key the net does not take is refused when the net is built, still before training."""
    _check(
        OmegaConf.is_config(net) and isinstance(net.get("_target_"), str) and net._target_.startswith("src."),
        "model.net._target_ must name a network class of this project under src. (e.g. src.models.nets.mlp.MLP); "
        f"got {_plain(net.get('_target_')) if OmegaConf.is_config(net) else _plain(net)!r}",
    )
    if "hidden" in net:
        hidden = _plain(net.hidden)
        _check(
            isinstance(hidden, list) and all(_is_int(h) and h >= 1 for h in hidden),
            f"model.net.hidden must be a list of positive integers, e.g. [64,64]; got {hidden!r}",
        )
    if "norm" in net:
        _one_of(net.norm, NORMS, "model.net.norm")
    for key in ("dropout", "dropout1", "dropout2", "attention_dropout", "ffn_dropout", "residual_dropout"):
        if key in net:
            value = net[key]
            _check(_is_number(value) and 0 <= value < 1, f"model.net.{key} must be in [0, 1); got {value!r}")
    for key in ("n_blocks", "d_block", "attention_n_heads"):
        if key in net:
            _check(_is_int(net[key]) and net[key] >= 1, f"model.net.{key} must be an integer >= 1; got {net[key]!r}")
    if "d_block" in net and "attention_n_heads" in net:
        _check(
            net.d_block % net.attention_n_heads == 0,
            f"model.net.d_block must be a multiple of model.net.attention_n_heads={net.attention_n_heads}; got {net.d_block}",
        )
    if "categorical" in net:
        _one_of(net.categorical, CATEGORICAL, "model.net.categorical")
    dim = net.get("cat_embedding_dim")
    _check(
        dim is None or (_is_int(dim) and dim >= 1), f"model.net.cat_embedding_dim must be null or an integer >= 1; got {dim!r}"
    )
    if net.get("_target_") != "src.models.nets.tabm.TabM":  # TabM names its embedding by kind and checks it itself
        validate_embedding(_plain(net.get("embedding")))


# Each numeric embedding's settings: required, then optional (rtdl_num_embeddings' argument names).
EMBEDDING_SETTINGS = {
    "periodic": ({"n_frequencies", "d_embedding", "frequency_init_scale"}, {"lite", "activation"}),
    "piecewise_linear": ({"n_bins", "d_embedding"}, {"activation", "version", "tree", "bins"}),
    "linear_relu": ({"d_embedding"}, set()),
}


def validate_embedding(embedding) -> None:
    if embedding is None:
        return
    example = "e.g. {kind: periodic, n_frequencies: 16, d_embedding: 16, frequency_init_scale: 0.1}"
    _check(isinstance(embedding, dict), f"model.net.embedding must be null or a mapping, {example}; got {embedding!r}")
    kind = embedding.get("kind")
    _one_of(kind, tuple(EMBEDDING_SETTINGS), "model.net.embedding.kind")
    required, optional = EMBEDDING_SETTINGS[kind]
    given = set(embedding) - {"kind"}
    _check(
        required <= given <= required | optional,
        f"model.net.embedding (kind={kind}) takes {', '.join(sorted(required))} and optionally "
        f"{', '.join(sorted(optional)) or 'nothing else'}; got {', '.join(sorted(given)) or 'nothing'}",
    )
    for key in ("n_frequencies", "d_embedding"):
        if key in embedding:
            value = embedding[key]
            _check(_is_int(value) and value >= 1, f"model.net.embedding.{key} must be an integer >= 1; got {value!r}")
    if "n_bins" in embedding:
        value = embedding["n_bins"]
        _check(_is_int(value) and value >= 2, f"model.net.embedding.n_bins must be an integer >= 2; got {value!r}")
    if "frequency_init_scale" in embedding:
        scale = embedding["frequency_init_scale"]
        _check(_is_number(scale) and scale > 0, f"model.net.embedding.frequency_init_scale must be > 0; got {scale!r}")
    if "version" in embedding:
        _one_of(embedding["version"], ("A", "B"), "model.net.embedding.version")


def validate_optimizer(optimizer: DictConfig) -> None:
    target = optimizer.get("_target_")
    allowed = ", ".join(f"torch.optim.{name}" for name in OPTIMIZERS)
    _check(
        isinstance(target, str) and target.startswith("torch.optim.") and target.removeprefix("torch.optim.") in OPTIMIZERS,
        f"model.optimizer._target_ must be one of {allowed}; got {target!r}",
    )
    _check(_is_number(optimizer.get("lr")) and optimizer.lr > 0, f"model.optimizer.lr must be > 0; got {optimizer.get('lr')!r}")
    decay = optimizer.get("weight_decay", 0.0)
    _check(_is_number(decay) and decay >= 0, f"model.optimizer.weight_decay must be >= 0; got {decay!r}")


PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed")
PROFILERS = ("simple", "advanced", "pytorch")
CLIP_ALGORITHMS = ("norm", "value")
# Trainer flags the lesson's loop (runner=plain) does not have: refused there rather than ignored
LIGHTNING_ONLY = {
    "gradient_clip_val": None,
    "accumulate_grad_batches": 1,
    "precision": "32-true",
    "detect_anomaly": False,
    "profiler": None,
    "check_val_every_n_epoch": 1,
    "val_check_interval": 1.0,
}


def validate_training(cfg: DictConfig) -> None:
    trainer = cfg.trainer
    validate_step_flags(cfg)
    _check(
        _is_int(trainer.max_epochs) and trainer.max_epochs >= 1,
        f"trainer.max_epochs must be an integer >= 1; got {trainer.max_epochs!r}",
    )
    es = cfg.callbacks.get("early_stopping")
    if es is not None:
        _check(
            _is_int(es.patience) and es.patience >= 0,
            f"callbacks.early_stopping.patience must be an integer >= 0; got {es.patience!r}",
        )


def validate_step_flags(cfg: DictConfig) -> None:
    """The Trainer flags the fast steps apply or depend on (src/models/fast_steps.py), checked before any work."""
    trainer = cfg.trainer
    precision = str(trainer.get("precision", "32-true"))
    _one_of(precision, PRECISIONS, "trainer.precision")
    on_gpu = str(trainer.get("accelerator")) in ("gpu", "cuda", "auto")
    _check(
        precision != "16-mixed" or on_gpu,
        "trainer.precision=16-mixed needs a GPU (trainer=gpu); on the CPU use trainer.precision=bf16-mixed",
    )
    clip = trainer.get("gradient_clip_val")
    _check(
        clip is None or (_is_number(clip) and clip >= 0), f"trainer.gradient_clip_val must be null or a number >= 0; got {clip!r}"
    )
    algorithm = trainer.get("gradient_clip_algorithm")
    _check(
        algorithm is None or algorithm in CLIP_ALGORITHMS,
        f"trainer.gradient_clip_algorithm must be null (norm) or one of {', '.join(CLIP_ALGORITHMS)}; got {algorithm!r}",
    )
    accumulate = trainer.get("accumulate_grad_batches", 1)
    _check(
        _is_int(accumulate) and accumulate >= 1, f"trainer.accumulate_grad_batches must be an integer >= 1; got {accumulate!r}"
    )
    every = trainer.get("val_metrics_every_n_epochs", 1)
    _check(_is_int(every) and every >= 1, f"trainer.val_metrics_every_n_epochs must be an integer >= 1; got {every!r}")
    profiler = trainer.get("profiler")
    _check(
        profiler is None or profiler in PROFILERS or OmegaConf.is_dict(profiler),
        f"trainer.profiler must be null or one of {', '.join(PROFILERS)}; got {profiler!r}",
    )
    interval = trainer.get("val_check_interval", 1.0)
    _check(
        interval in (None, 1.0) or cfg.data.get("steps_per_execution") == 1,
        f"trainer.val_check_interval={interval} is counted in Lightning steps, and one step runs "
        f"data.steps_per_execution={cfg.data.get('steps_per_execution')!r} mini-batches (null: a whole epoch); "
        "set data.steps_per_execution=1 or use trainer.check_val_every_n_epoch",
    )
    if cfg.runner == "plain":
        for key, default in LIGHTNING_ONLY.items():
            value = trainer.get(key, default)
            _check(
                value == default or (key == "precision" and str(value) == "32"),
                f"trainer.{key}={value} is a Lightning Trainer flag; runner=plain is the lesson's loop without it "
                f"(use runner=lightning, or trainer.{key}={default})",
            )
