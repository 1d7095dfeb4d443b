"""Run names for TensorBoard and MLflow from the overrides a run was given, so runs that differ in a setting are told
apart; and overrides written so that a printed command can be pasted."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

# where the run goes or how it shows progress, not what it learns: left out of the name
NOT_IN_NAME = tuple(
    "experiment name paths. hydra logger resume ckpt_path trainer.enable_progress_bar torch_threads data.path".split()
)
MAX_LENGTH = 120


def overrides_label(overrides: list[str]) -> str:
    """`model.optimizer.lr=0.01,seed=3` from the command's overrides; '' when it had none that name a setting."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith(NOT_IN_NAME)]
    # a folder name for TensorBoard on any system: no separators, spaces, or what Windows refuses (`:` of a `{_target_: ...}`)
    label = re.sub(r'[/\\<>:"|?*\s]+', "_", ",".join(kept))
    return label if len(label) <= MAX_LENGTH else label[: MAX_LENGTH - 3] + "..."


def run_label() -> str:
    """The label of the running Hydra job; '' outside one (a config composed in a test or a notebook)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ""
    hydra = HydraConfig.get()
    return overrides_label(first_overrides(Path(hydra.runtime.output_dir), list(hydra.overrides.task)))


def first_overrides(run_dir: Path, overrides: list[str]) -> list[str]:
    """The overrides the run in `run_dir` first started with (its first `.hydra/overrides.yaml`), else `overrides`:
    a resumed run that changes trainer.max_epochs keeps its TensorBoard folder and MLflow name."""
    try:
        first = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):  # not written yet (a new run), or hydra.output_subdir=null
        return overrides
    return [str(o) for o in first] if isinstance(first, list) else overrides


def mlflow_run_name(name: str) -> str:
    label = run_label()
    return f"{name} {label}" if label else name


def file_stem(path) -> str:
    """`houses` for data.path=data/houses.csv; any other file keeps its suffixes (`houses_csv_gz`, `houses_parquet`),
    so two forms of one table (houses.csv, houses.csv.gz) never share logs/<name>/ and mix their runs."""
    name = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    name = name[:-4] if name.lower().endswith(".csv") else name.replace(".", "_")
    return re.sub(r"[^\w.\-]+", "_", name) or "csv"


def pasteable_argument(key: str, value: str) -> str:
    """`key=value` as one shell argument that Hydra reads back as `value`: as it is where Hydra reads it unquoted (an
    ordinary path), else the value in Hydra's quotes inside the shell's (a non-ASCII name, a comma, a quote)."""
    plain = f"{key}={value}"
    try:
        if "${" not in value and OverridesParser.create().parse_override(plain).value() == value:
            return shlex.quote(plain)
    except Exception:  # noqa: BLE001  (Hydra's lexer refuses it: it needs Hydra's quotes)
        pass
    # in Hydra's quotes a backslash escapes only a quote (or backslashes before one), and `${` would be interpolated
    escaped = re.sub(r"(\\*)(?='|\Z)", r"\1\1", value).replace("'", "\\'").replace("${", "\\${")
    argument = f"{key}='{escaped}'"
    # the shell's double quotes read better around Hydra's single ones; but they leave $ ` \ ! " to the shell
    return f'"{argument}"' if not re.search(r'[$`\\!"]', argument) else shlex.quote(argument)
