"""One validation step for the composed config: every mistake is one line naming the setting, what is allowed and the
bad value, before any work starts. Nothing here imports torch or Lightning, so a bad override fails in a second.
"""

from __future__ import annotations

import difflib
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.errors import UserError, is_int, is_number, user_errors_exit
from src.reporting.run_names import pasteable_argument
from src.runs.run_dir import register_resolvers as register_run_dir_resolvers
from src.sweeps.resolvers import register_resolvers as register_sweep_resolvers

# torch.optim's optimizers that take a plain step() on dense gradients (tests/test_config.py keeps this list true):
# LBFGS needs a closure, SparseAdam sparse gradients, Muon 2-D parameters only.
OPTIMIZERS = ("ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD")

MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit, and Lightning seeds numpy too

# `${repeat:256,3}` is [256, 256, 256]: lets a search sample a width and a depth for model.hidden
OmegaConf.register_new_resolver("repeat", lambda value, times: [value] * times, replace=True)
register_sweep_resolvers()  # hydra.sweep.dir and the joblib launcher's n_jobs call them
register_run_dir_resolvers()  # hydra.run.dir and the run names in conf/train.yaml call them


class ChecksBeforeRunFolder(Callback):
    """A single run's config (and its data file's header) checked before Hydra makes the run's folder."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors_exit():
            validate_config(config)
            refuse_sweep_shorthands(config)
            if config.data.source._target_ == "src.data.sources.read_file":  # the DataModule checks the whole table
                validate_columns(config.data)


def check_command_line(config_name: str, args: list[str] | None = None) -> None:
    """Hydra's errors for a command line (a misspelt key, an unknown option, bad syntax) as one `error:` line with a
    suggestion, before Hydra makes a folder; a sweep is checked with its first value, other flags are left to Hydra."""
    args = sys.argv[1:] if args is None else args
    if any(arg.startswith("-") and arg not in ("-m", "--multirun") for arg in args):
        return
    args = [first_of_sweep(arg) for arg in args if arg not in ("-m", "--multirun")]
    if None in args:
        return

    conf = str(Path(__file__).resolve().parent.parent / "conf")
    try:
        with initialize_config_dir(conf, version_base="1.3"):
            composed = compose(config_name, overrides=args)
    except Exception as exc:  # noqa: BLE001  (Hydra raises several types for a command line it cannot compose)
        print(f"error: {hydra_error_line(exc, conf, config_name, args)}", file=sys.stderr)
        sys.exit(2)
    for arg in args:  # `+max_epochs=10` for trainer.max_epochs: Hydra adds the key, and nothing would read it
        key, _, value = arg.partition("=")
        name = key[1:] if key.startswith("+") and not key.startswith("++") else ""
        unread = name.isidentifier() and not Path(conf, name).is_dir()
        if unread and not re.search(rf"\$\{{[^}}]*\b{name}\b", OmegaConf.to_yaml(composed)):  # nor `${name}`
            meant = setting_named_like(name, composed, leave_out=name)
            hint = f"did you mean {meant}={value}?" if meant else f"the config has {', '.join(k for k in composed if k != name)}"
            print(f"error: {arg} adds a top-level setting that nothing reads ({hint})", file=sys.stderr)
            sys.exit(2)


def group_options_with(conf: str, group: str, name: str) -> list[str]:
    """The options of config group `group` (conf/<group>/*.yaml) that have a setting `name`."""
    if not group or not Path(conf, group).is_dir():
        return []
    return [p.stem for p in sorted(Path(conf, group).glob("*.yaml")) if name in (OmegaConf.load(p) or {}).keys()]


def setting_named_like(name: str, config: DictConfig, leave_out: str = "") -> str | None:
    """The full key of a setting anywhere in `config` (but its top-level `leave_out`) named `name`, or nearest to it."""
    keys: dict[str, str] = {}  # own name -> full key (the first of a name)

    def walk(node: dict, prefix: str) -> None:
        for own, value in node.items():
            keys.setdefault(str(own), f"{prefix}{own}")
            if isinstance(value, dict):
                walk(value, f"{prefix}{own}.")

    walk({k: v for k, v in OmegaConf.to_container(config).items() if k != leave_out}, "")
    close = difflib.get_close_matches(name, keys, n=1)
    return keys[close[0]] if close else None


def first_of_sweep(arg: str) -> str | None:
    """`key=a,b` or `key=range(3)` as `key=a` or `key=0`; None for an interval (a sampler's)."""
    try:
        (override,) = OverridesParser.create().parse_overrides([arg])
    except Exception:  # noqa: BLE001  (a syntax error: compose reports it)
        return arg
    if not override.is_sweep_override():
        return arg
    try:
        return f"{override.get_key_element()}={next(iter(override.sweep_string_iterator()))}"
    except Exception:  # noqa: BLE001  (an interval: no first value to check with)
        return None


def hydra_error_line(exc: Exception, conf: str, config_name: str, args: list[str]) -> str:
    """Hydra's message on one line, with `did you mean ...?` for a key or an option that is close to a real one."""
    text = str(exc) + (f" {exc.__cause__}" if exc.__cause__ is not None and str(exc.__cause__) not in str(exc) else "")
    lines = [line.strip() for line in text.splitlines() if line.strip() and "object_type=" not in line]
    missing_key = re.search(r"full_key: (\S+)", text)
    missing_option = re.search(r"Could not find '([^']+)/([^']+)'", text)
    nulled = [a.split("=")[0] for a in args if a.lower().endswith("=null") and Path(conf, a.split("=")[0]).is_dir()]
    if nulled and "Config group override must be" in text:  # group=null: Hydra's message names neither
        options = sorted(p.stem for p in Path(conf, nulled[0]).glob("*.yaml"))
        hint = f"did you mean {nulled[0]}=none?" if "none" in options else f"options: {', '.join(options)}"
        return f"{nulled[0]}=null is not an option of {nulled[0]}: there is no conf/{nulled[0]}/null.yaml ({hint})"
    if missing_key and ("not in struct" in text or re.search(r"not in '\w+Conf'", text)):  # a Hydra node: its dataclass
        key = missing_key.group(1)
        parent, _, name = key.rpartition(".")
        others = [a for a in args if not a.split("=")[0].lstrip("+~").startswith(key)]
        try:
            with initialize_config_dir(conf, version_base="1.3"):
                composed = compose(config_name, overrides=others, return_hydra_config=key.startswith("hydra."))
            node = OmegaConf.select(composed, parent) if parent else composed
        except Exception:  # noqa: BLE001  (another override is wrong too: no suggestion then)
            node = None
        keys = [str(k) for k in node.keys()] if OmegaConf.is_dict(node) else []
        close = difflib.get_close_matches(name, keys, n=1)
        where = f"{parent}." if parent else ""
        # data.path under data=cancer: a setting of another option of the group (data=csv), which an experiment picks
        group = parent.replace(".", "/")  # model.net's options are model/net=...
        options = [] if close else group_options_with(conf, group, name)
        if options:
            experiment = "/" not in group and Path(conf, "experiment", f"{options[0]}.yaml").is_file()
            picks = f"experiment={options[0]}" if experiment else f"{group}={options[0]}"
            owners = ", ".join(f"{group}={o}" for o in options)
            return f"{key} is not a setting of this {parent} but of {owners} (did you mean {picks} {key}=...?)"
        elsewhere = None if close or node is None or key.startswith("hydra.") else setting_named_like(name, composed)
        hint = f"{where}{close[0]}" if close else elsewhere
        hint = f"did you mean {hint}?" if hint else f"{parent or 'the config'} has {', '.join(keys) or 'no settings'}"
        # a new top-level key is read by nothing; a new key below one (+callbacks.<name>, +trainer.<flag>) may be
        return f"{key} is not a setting ({hint})" + (f"; to add a new key, write +{key}=..." if parent else "")
    if missing_option:
        group, option = missing_option.groups()
        listed = lines[lines.index(next(x for x in lines if x.startswith("Available options"))) + 1 :]
        options = [o for o in listed if "=" not in o and not o.startswith("Config search path")]
        close = difflib.get_close_matches(option, options, n=1)
        hint = f"did you mean {group}={close[0]}?" if close else f"options: {', '.join(options)}"
        return f"{group}={option} is not an option of {group}: there is no conf/{group}/{option}.yaml ({hint})"
    if unquoted := next((a for a in args if needs_hydra_quotes(a)), None):  # its lexer's message names no cause
        key, _, value = unquoted.partition("=")
        odd = "".join(dict.fromkeys(c for c in value if not (c.isalnum() or c in "._/-+@~%")))
        which = "characters outside ASCII" if not value.isascii() else f"{' '.join(odd)} in it"
        return f"Hydra cannot read {unquoted} unquoted: a value with {which} needs Hydra's quotes; write {pasteable_argument(key, value)}"
    message = " ".join(line for line in lines if not line.startswith(("See https://", "Set the environment variable")))
    return message if "override" in message.lower() else f"cannot read the command line {' '.join(args)}: {message}"


def needs_hydra_quotes(argument: str) -> bool:
    """`key=value` that Hydra's lexer refuses and reads once its value is in Hydra's quotes (`data.target=등급`)."""
    key, _, value = argument.partition("=")
    if value.startswith(("[", "{")):  # a list or a dict mistyped, more likely than a name
        return False
    try:
        OverridesParser.create().parse_override(argument)
        return False
    except Exception:  # noqa: BLE001  (Hydra raises several types for an argument it cannot read)
        pass
    try:
        OverridesParser.create().parse_override(shlex.split(pasteable_argument(key, value))[0])
        return True
    except Exception:  # noqa: BLE001  (wrong for another reason than its quotes: Hydra's own message then)
        return False


def validate_config(cfg: DictConfig) -> None:
    validate_run(cfg)
    validate_data(cfg.data)
    validate_model(cfg.model)
    validate_training(cfg)
    validate_cv_and_seeds(cfg)
    validate_importance(cfg.get("importance"))


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v != "" for v in value)


def _int_at_least(key: str, value, low: int, null: bool = False, why: str = "") -> None:
    # errors.require_int's check, kept here with raise rather than require(): the config's road stays in this module
    if not ((null and value is None) or (is_int(value) and value >= low)):
        raise UserError(f"{key} must be {'null or ' if null else ''}an integer >= {low}{why}; got {value!r}")


def _one_of(key: str, value, allowed: tuple, null: str | None = None) -> None:
    """`null`: None when null is not allowed, else what null means (" (inferred)", or "" for nothing said)."""
    if not (value in allowed or (null is not None and value is None)):
        nullable = "" if null is None else f"null{null} or "
        raise UserError(f"{key} must be {nullable}one of {', '.join(allowed)}; got {value!r}")


def validate_run(cfg: DictConfig) -> None:
    if cfg.runner not in ("lightning", "plain"):
        raise UserError(f"runner must be lightning or plain; got {cfg.runner!r}")
    if cfg.runner == "plain" and str(cfg.trainer.get("devices", 1)) not in ("1", "auto"):
        raise UserError(
            f"runner=plain runs in one process; got trainer.devices={cfg.trainer.get('devices')!r} (use trainer=default or trainer=gpu)"
        )
    if not (is_int(cfg.seed) and 0 <= cfg.seed <= MAX_SEED):
        raise UserError(f"seed must be an integer in [0, {MAX_SEED}] (numpy's range); got {cfg.seed!r}")
    _int_at_least("torch_threads", cfg.torch_threads, 1, null=True)


def validate_data(data: DictConfig) -> None:
    """The data settings (the DataModule's); the columns they name are checked against the file's header later."""
    from src.data.target import TASKS  # the data defines the tasks; imported here, as it brings pandas

    source = data.get("source")
    if not (OmegaConf.is_dict(source) and isinstance(source.get("_target_"), str)):
        raise UserError("data.source must be a config node with a _target_, e.g. {_target_: src.data.sources.breast_cancer}")
    if source._target_ == "src.data.sources.read_file":
        for key, example in (("path", "data.path=houses.csv"), ("target", "data.target=price")):
            if OmegaConf.is_missing(data, key):
                raise UserError(f"data.{key} is required with data=csv, e.g. {example}")
        if not (isinstance(data.path, str) and data.path.strip() != ""):
            raise UserError(f"data.path must be a file name; got {data.path!r}")
    target = data.get("target")
    if not (target is None or (isinstance(target, str) and target != "")):
        raise UserError(f"data.target must be a column name; got {target!r}{quoting_hint('data.target', target)}")
    _one_of("data.task", data.get("task"), TASKS, null=" (inferred)")
    features = _plain(data.get("features"))
    if not (features is None or (_names(features) and len(features) > 0)):
        raise UserError(
            f"data.features must be null or a non-empty list of column names, e.g. [MedInc,HouseAge]; got {features!r}"
        )
    lists = {key: _plain(data.get(key)) or [] for key in ("categorical", "numeric", "drop")}
    for key, value in lists.items():
        if not _names(value):
            raise UserError(
                f"data.{key} must be a list of column names, e.g. [island,sex]; got {value!r}{quoting_hint(f'data.{key}', value)}"
            )
    for column in dict.fromkeys(c for names in lists.values() for c in names):
        where = [f"data.{key}" for key, names in lists.items() if column in names]
        if len(where) > 1:
            raise UserError(f"column {column!r} is in both {' and '.join(where)}; give each column one kind")
    _one_of("data.missing", data.get("missing", "impute"), ("impute", "refuse"))
    _one_of("data.feature_transform", data.get("feature_transform", "standard"), ("standard", "quantile"))
    if not isinstance(data.get("stratify", False), bool):
        raise UserError(f"data.stratify must be true or false; got {data.get('stratify')!r}")
    if not (data.batch_size == "auto" or (is_int(data.batch_size) and data.batch_size >= 1)):
        raise UserError(f"data.batch_size must be an integer >= 1 or auto; got {data.batch_size!r}")
    for key in ("test_fraction", "val_fraction"):
        if not (is_number(data[key]) and 0 < data[key] < 1):
            raise UserError(f"data.{key} must be in (0, 1); got {data[key]!r}")
    if data.test_fraction + data.val_fraction >= 1:
        raise UserError(
            "data.test_fraction + data.val_fraction must leave room for training (sum < 1); "
            f"got {data.test_fraction} + {data.val_fraction}"
        )
    _int_at_least("data.steps_per_execution", data.steps_per_execution, 1, null=True)


def quoting_hint(key: str, value) -> str:
    """Hydra reads data.target=2024 as a number: a column named 2024 (or true) is given quoted."""
    values = value if isinstance(value, list) else [value]
    if not any(isinstance(v, (int, float)) for v in values) or not all(isinstance(v, (str, int, float)) for v in values):
        return ""
    quoted = ",".join(f"'{v}'" for v in values)
    return f' (quote a name that reads as a number or true/false: {key}="{f"[{quoted}]" if isinstance(value, list) else quoted}")'


def validate_columns(data: DictConfig) -> None:
    """data=csv: the columns the settings name are in the file's header (the DataModule checks the whole table later)."""
    from src.data.readers import header_columns, listed, not_a_column

    columns = header_columns(data.path) if Path(data.path).is_file() else None
    if columns is None:  # no such file, or not readable by its header: the reader says why
        return
    if data.target not in columns:
        raise UserError(not_a_column("data.target", data.target, columns, data.path))
    for key in ("features", "categorical", "numeric", "drop"):
        unknown = [c for c in _plain(data.get(key)) or [] if c not in columns]
        if unknown:
            raise UserError(
                f"data.{key} names {', '.join(map(repr, unknown))}, not a column of {data.path} (columns: {listed(columns)})"
            )


def _project_target(key: str, target, what: str, example: str) -> None:
    if not (isinstance(target, str) and target.startswith("src.")):
        raise UserError(f"{key} must name {what} of this project under src. (e.g. {example}); got {_plain(target)!r}")


def validate_model(model: DictConfig) -> None:
    _project_target("model._target_", model.get("_target_"), "a function or class", "src.models.tasks.task_module")
    if "threshold" in model and not (is_number(model.threshold) and 0 < model.threshold < 1):
        raise UserError(f"model.threshold must be in (0, 1); got {model.threshold!r}")
    standardize = model.get("standardize_target", False)
    if not isinstance(standardize, bool):
        raise UserError(f"model.standardize_target must be true or false; got {standardize!r}")
    _one_of("model.lr_schedule", model.get("lr_schedule"), ("cosine", "onecycle"), null="")
    net = model.get("net")  # only its target (a class under src., nothing else is ever built): each net checks the rest
    target = net.get("_target_") if OmegaConf.is_dict(net) else net
    _project_target("model.net._target_", target, "a network class", "src.models.nets.mlp.MLP")
    validate_optimizer(model.optimizer)


def validate_optimizer(optimizer: DictConfig) -> None:
    _one_of("model.optimizer._target_", optimizer.get("_target_"), tuple(f"torch.optim.{name}" for name in OPTIMIZERS))
    if not (is_number(optimizer.get("lr")) and optimizer.lr > 0):
        lr = optimizer.get("lr")
        quoted = isinstance(lr, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", lr, re.IGNORECASE)
        hint = f" (quoted, a number is a string: write model.optimizer.lr={lr} without quotes)" if quoted else ""
        raise UserError(f"model.optimizer.lr must be a number > 0; got {lr!r}{hint}")
    decay = optimizer.get("weight_decay", 0.0)
    if not (is_number(decay) and decay >= 0):
        raise UserError(f"model.optimizer.weight_decay must be >= 0; got {decay!r}")


# Trainer flags counted in Lightning steps, of which one runs data.steps_per_execution mini-batches (null: an epoch)
COUNTED_IN_STEPS = {
    "val_check_interval": 1.0,
    "limit_train_batches": 1.0,
    "limit_val_batches": 1.0,
    "limit_test_batches": 1.0,
    "overfit_batches": 0.0,
    "max_steps": -1,  # a Lightning user means optimizer steps; with a whole epoch per step it would count epochs
}
# Trainer flags the lesson's loop (runner=plain) does not have: refused there rather than ignored
LIGHTNING_ONLY = {
    **COUNTED_IN_STEPS,
    "gradient_clip_val": None,
    "accumulate_grad_batches": 1,
    "precision": "32-true",
    "detect_anomaly": False,
    "profiler": None,
    "check_val_every_n_epoch": 1,
    "max_time": None,
    "fast_dev_run": False,
    "lr_find": False,
}
# the callbacks the lesson's loop has its own code for (src/reference/plain_loop.py)
PLAIN_CALLBACKS = ("model_checkpoint", "last_checkpoint", "early_stopping", "progress_bar")


def validate_training(cfg: DictConfig) -> None:
    """max_epochs, the checkpoint and early stopping, and the Trainer flags the fast steps apply or depend on."""
    trainer = cfg.trainer
    _int_at_least("trainer.max_epochs", trainer.max_epochs, 1)
    if cfg.runner == "lightning" and cfg.callbacks.get("model_checkpoint") is None:
        raise UserError(
            "callbacks.model_checkpoint is required with runner=lightning: the run tests its best.ckpt and "
            "eval, predict and ensembles read it (change its monitor or mode, but keep it)"
        )
    if cfg.runner == "lightning" and cfg.callbacks.model_checkpoint.get("monitor") is None:
        raise UserError("callbacks.model_checkpoint.monitor must name the metric best.ckpt is chosen by, e.g. val_loss; got None")
    if cfg.callbacks.get("early_stopping") is not None:
        _int_at_least("callbacks.early_stopping.patience", cfg.callbacks.early_stopping.patience, 0)
        delta = cfg.callbacks.early_stopping.get("min_delta", 0.0)
        if not (is_number(delta) and delta >= 0):
            raise UserError(f"callbacks.early_stopping.min_delta must be a number >= 0; got {delta!r}")
    precision = str(trainer.get("precision", "32-true"))
    _one_of("trainer.precision", precision, ("32-true", "32", "bf16-mixed", "16-mixed"))
    if precision == "16-mixed" and str(trainer.get("accelerator")) not in ("gpu", "cuda", "auto"):
        raise UserError("trainer.precision=16-mixed needs a GPU (trainer=gpu); on the CPU use trainer.precision=bf16-mixed")
    clip = trainer.get("gradient_clip_val")
    if not (clip is None or (is_number(clip) and clip >= 0)):
        raise UserError(f"trainer.gradient_clip_val must be null or a number >= 0; got {clip!r}")
    _one_of("trainer.gradient_clip_algorithm", trainer.get("gradient_clip_algorithm"), ("norm", "value"), null=" (norm)")
    for key in ("accumulate_grad_batches", "val_metrics_every_n_epochs"):
        _int_at_least(f"trainer.{key}", trainer.get(key, 1), 1)
    if trainer.get("lr_find") and (accumulate := trainer.get("accumulate_grad_batches", 1)) > 1:
        # its curve, a loss per mini-batch at a rate that changes once per accumulate_grad_batches, drowns in their noise
        size = cfg.data.batch_size
        larger = f"data.batch_size={size * accumulate}" if is_int(size) else f"a data.batch_size {accumulate} times larger"
        raise UserError(
            f"trainer.lr_find=true does not work with trainer.accumulate_grad_batches={accumulate}; find the rate with "
            f"{larger} and trainer.accumulate_grad_batches=1, which takes the same steps"
        )
    # build_trainer passes its own: these would be replaced without a word
    if "callbacks" in trainer:
        raise UserError(
            "trainer.callbacks would be replaced by the run's callbacks; add one with '+callbacks.<name>={_target_: ...}'"
        )
    if "logger" in trainer:
        raise UserError(
            f"trainer.logger={trainer.logger} would be replaced by the run's loggers; choose them with logger=none, logger=csv, ..."
        )
    _int_at_least("trainer.check_val_every_n_epoch", trainer.get("check_val_every_n_epoch", 1), 1, null=True)
    interval = trainer.get("val_check_interval", 1.0)
    if trainer.get("check_val_every_n_epoch", 1) is None and isinstance(interval, float):  # Lightning's rule, in our line
        raise UserError(
            "trainer.check_val_every_n_epoch=null validates every trainer.val_check_interval steps across epochs, so that "
            f"must be an integer, e.g. trainer.val_check_interval=100 data.steps_per_execution=1; got {interval!r}"
        )
    if not OmegaConf.is_dict(trainer.get("profiler")):  # a profiler's own node: Lightning checks it
        _one_of("trainer.profiler", trainer.get("profiler"), ("simple", "advanced", "pytorch"), null="")
    steps = cfg.data.get("steps_per_execution")
    for key, default in COUNTED_IN_STEPS.items():
        value = trainer.get(key, default)
        if value not in (None, default) and steps != 1 and cfg.runner == "lightning":
            raise UserError(
                f"trainer.{key}={value} is counted in Lightning steps, and one step runs data.steps_per_execution={steps!r} "
                "mini-batches (null: a whole epoch); set data.steps_per_execution=1"
                + (" or use trainer.check_val_every_n_epoch" if key == "val_check_interval" else "")
            )
    if cfg.runner == "plain":
        for key, default in LIGHTNING_ONLY.items():
            value = trainer.get(key, default)
            if value != default and not (key == "precision" and str(value) == "32"):
                raise UserError(
                    f"trainer.{key}={value} is a Lightning Trainer flag; runner=plain is the lesson's loop without it "
                    f"(use runner=lightning, or trainer.{key}={'null' if default is None else default})"
                )
        for key, node in cfg.callbacks.items():
            if node is not None and key not in PLAIN_CALLBACKS:
                raise UserError(
                    f"callbacks.{key} is a Lightning callback; runner=plain is the lesson's loop without it "
                    f"(use runner=lightning, or leave out callbacks.{key})"
                )
        for key in ("model_checkpoint", "early_stopping"):  # the lesson keeps and stops on the lowest val_loss
            node = cfg.callbacks.get(key) or {}
            if (node.get("monitor", "val_loss"), node.get("mode", "min")) != ("val_loss", "min"):
                raise UserError(
                    f"callbacks.{key} watches {node.get('monitor')} (mode={node.get('mode', 'min')}); runner=plain is the "
                    "lesson's loop, which watches val_loss (mode=min) (use runner=lightning)"
                )


def validate_cv_and_seeds(cfg: DictConfig) -> None:
    """cv.folds, cv.fold and seeds (in every run: a job of a fold sweep checks them too)."""
    cv = cfg.get("cv") or {}
    folds, fold = cv.get("folds"), cv.get("fold")
    _int_at_least("cv.folds", folds, 2, null=True, why=" (k-fold cross-validation)")
    if fold is not None and folds is None:
        raise UserError(f"cv.fold={fold!r} needs cv.folds, e.g. cv.folds=5 cv.fold={fold}")
    if fold is not None and not (is_int(fold) and 0 <= fold < folds):
        raise UserError(f"cv.fold must be an integer in [0, {folds - 1}] with cv.folds={folds}; got {fold!r}")
    _int_at_least("seeds", cfg.get("seeds"), 1, null=True, why=" (a multirun over seed, seed+1, ...)")


def refuse_sweep_shorthands(cfg: DictConfig) -> None:
    """cv.folds without cv.fold and seeds stand for the default sweeper's sweeps: a single run or an Optuna trial would
    crash on them or ignore them (a sweep job resumed alone with ckpt_path keeps its seeds=N, as its resume command says)."""
    folds = cfg.cv.folds if cfg.get("cv") and cfg.cv.get("fold") is None else None
    only = "a multirun of the default sweeper: add -m (python -m src.train -m"
    if folds is not None:
        raise UserError(
            f"cv.folds={folds} stands for one job per fold, {only} cv.folds={folds} ...); one fold: cv.fold=0..{folds - 1}"
        )
    if cfg.get("seeds") is not None and cfg.get("ckpt_path") is None:
        raise UserError(f"seeds={cfg.seeds} stands for one job per seed, {only} seeds={cfg.seeds} ...); one run: seed=<n>")


def validate_importance(settings) -> None:
    """importance.repeats (0 turns it off) and importance.max_rows, for the report's permutation importance."""
    if settings is None:
        return
    for key, low in (("repeats", 0), ("max_rows", 1)):
        _int_at_least(f"importance.{key}", settings.get(key), low)
