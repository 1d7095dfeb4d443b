"""The tests marked `services` run the documented commands against a real one-node SLURM, PostgreSQL and MLflow
server on this machine, started by `make services` (scripts/services.sh), which writes their addresses to
$SERVICES_DIR/env. Without that file they are skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENV_FILE = Path(os.environ.get("SERVICES_DIR", "/var/lib/tabular-services")) / "env"


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    if not ENV_FILE.is_file():
        pytest.skip(f"the services are not up ({ENV_FILE} not found): make services")
    return dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)


def train(*args: str) -> list[str]:
    """The command line of `python -m src.train args`."""
    return [sys.executable, "-m", "src.train", *args]


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    """`python -m src.train args` started as a user starts it, its output (stdout and stderr) collected."""
    return subprocess.Popen(
        train(*args), cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 400) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output


def wait_for(check, what: str, process: subprocess.Popen | None = None, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the command ended before {what}:\n{process.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.2)
