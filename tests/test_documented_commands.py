"""Every command in the README's and docs' shell blocks runs as written, shortened to a few epochs or trials.

They run in document order in one working folder with the default relative logs/, as a reader would type them:
a later command may use what an earlier one made (`<run>`, `<time>` and `...` stand for the newest such folder).
Commands that need a real cluster, database or tracking server are run by the services tests instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from tests.conftest import ROOT, needs_housing

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INDENTED_COMMAND = re.compile(r"^    ((?:python|\.venv/bin/python|make) (?:.*\\\n)*.*)$", re.MULTILINE)  # with \ continuations
NEEDS_SERVICES = re.compile(r"submitit_slurm|sbatch|srun|postgresql|tracking_uri=http|mlflow server|make services")
# what this machine cannot run: GPUs, a logger package that is not a dependency, the table suite's extra packages
NOT_HERE = re.compile(r"trainer=ddp trainer.devices|trainer=gpu|WandbLogger|benchmarks\.suite")
# the test suite itself, a server that runs until stopped, the table suite (an hour, and it rewrites docs/results.md)
NOT_RUN = ("make test", "make tensorboard", "make services", "make suite")
# a few epochs, trials and boosting rounds: the command's path, not its full length
SHORTER = {
    "src.train": ["trainer.max_epochs=2", "trainer.enable_progress_bar=false"],
    "src.compare": ["trainer.max_epochs=2", "trainer.enable_progress_bar=false"],
    "src.baseline": [],
    "src.blend": ["trainer.max_epochs=2", "trainer.enable_progress_bar=false"],
}


def documented_commands() -> list[tuple[str, str]]:
    commands = []
    for doc in DOCS:
        text = doc.read_text()
        blocks = [*SHELL_BLOCK.findall(text), *(m.replace("\\\n", " ") for m in INDENTED_COMMAND.findall(text))]
        for block in blocks:
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                if not words or words[-1] == "&":  # a second worker started in the background: run once, below
                    words = words[:-1]
                text = " ".join(words)
                if words and (words[0] in ("python", ".venv/bin/python") or words[0] == "make") and not text.startswith(NOT_RUN):
                    commands.append((doc.name, text))
    first = {}
    for doc, command in commands:  # a command that several pages show runs once, where it first appears
        first.setdefault(command, (doc, command))
    return list(first.values())


def newest(folder: Path, pattern: str) -> str:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    assert found, f"nothing matches {pattern}: the documented command needs an earlier one's output"
    return str(found[-1].relative_to(folder))


def filled_in(words: list[str], folder: Path) -> list[str]:
    """`<run>`, `<time>` and a bare `...` replaced by the newest matching output of an earlier command."""
    out = []
    for word in words:
        key, _, value = word.partition("=")
        if value == "...":
            value = newest(folder, "logs/cancer/runs/*/checkpoints/best.ckpt")
        elif "<" in value:
            value = newest(folder, re.sub(r"<[^>]+>", "*", value))
        out.append(f"{key}={value}" if _ else word)
    return out


def shortened(words: list[str]) -> list[str]:
    module = words[words.index("-m") + 1] if "-m" in words[:2] else "src.train"
    extra = list(SHORTER.get(module, []))
    if any(w.startswith("hparams_search=") for w in words):
        extra.append("hydra.sweeper.n_trials=2")
    words = [("baseline.trials=2" if w.startswith("baseline.trials=") else w) for w in words]
    words = [w for w in words if not w.startswith("trainer.max_epochs=")] if extra else words
    return [*words, *extra]


def user_files(folder: Path) -> None:
    """The files the docs' commands name, as a user would have them."""
    rng = np.random.default_rng(0)
    rows = 300
    cars = pd.DataFrame(
        {
            "mpg": rng.normal(25, 5, rows).round(1),
            "cylinders": rng.choice([4, 6, 8], rows),
            "weight": rng.normal(3000, 400, rows).round(),
            "origin": rng.choice(["usa", "europe", "japan"], rows),
            "name": [f"car {i}" for i in range(rows)],
        }
    )
    cars.to_csv(folder / "cars.csv", index=False)
    cars.to_parquet(folder / "cars.parquet", index=False)
    houses = pd.DataFrame({"rooms": rng.integers(1, 8, rows), "area": rng.normal(100, 30, rows)})
    houses["price"] = 1000 * houses["area"] + 5000 * houses["rooms"] + rng.normal(0, 1000, rows)
    houses.to_csv(folder / "houses.csv", index=False)
    bunch = load_breast_cancer()
    patients = pd.DataFrame(bunch.data, columns=bunch.feature_names)
    patients.iloc[:50].to_csv(folder / "new.csv", index=False)
    patients["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    patients.to_parquet(folder / "patients.parquet", index=False)


def interrupt_newest_run(folder: Path) -> int:
    """The page's "interrupted somewhere": the newest run loses its metrics.json, as a killed run leaves it; its epochs."""
    metrics = Path(newest(folder, "logs/*/runs/*/metrics.json"))
    epochs = json.loads((folder / metrics).read_text())["stopped_epoch"]
    (folder / metrics).unlink()
    return epochs


@pytest.fixture(scope="module")
def working_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reader")
    user_files(folder)
    return folder


COMMANDS = documented_commands()


def test_the_docs_have_commands_to_run():
    assert len(COMMANDS) > 20 and all(doc for doc, _ in COMMANDS)


@needs_housing
@pytest.mark.slow  # each command is a subprocess that imports Lightning
@pytest.mark.minutes  # all of them: make test-all runs this file on one worker, in document order
@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{doc}: {c[:80]}" for doc, c in COMMANDS])
def test_documented_command_runs(doc, command, working_folder):
    if NEEDS_SERVICES.search(command):
        pytest.skip("needs a real cluster, database or tracking server: tests/services run it")
    if NOT_HERE.search(command):
        pytest.skip("needs GPUs, or a package `make test` does not install (the table suite's: make suite)")
    words = shlex.split(command)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if words[0] == "make":  # make train ARGS="...": the Makefile's own command, in the working folder's logs/
        args = shlex.split(next((w.removeprefix("ARGS=") for w in words if w.startswith("ARGS=")), ""))
        argv = [sys.executable, "-m", "src.train", *shortened(["-m", "src.train", *args])[2:]]
    else:
        argv = [sys.executable, *shortened(filled_in(words[1:], working_folder))]
    if any(w.startswith("resume=") or (w.startswith("ckpt_path=") and w.endswith("last.ckpt")) for w in words):
        epochs = interrupt_newest_run(working_folder) + 1
        argv = [*(a for a in argv if not a.startswith("trainer.max_epochs=")), f"trainer.max_epochs={epochs}"]
    done = subprocess.run(argv, cwd=working_folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{doc}: {' '.join(argv[1:])}\n{done.stderr[-3000:]}"
