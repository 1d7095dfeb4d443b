"""What a person reads at the end of a run: its folder whole on one line, and commands that work when pasted."""

import json
import shlex

import pytest

from src.reporting.results import print_run_folder
from tests.conftest import run_module


@pytest.mark.slow  # subprocess runs of the commands, from a working folder with the default relative logs/ or another
@pytest.mark.parametrize("log_dir", ["logs", "elsewhere"])
def test_the_run_folder_and_the_printed_eval_command_can_be_pasted(tmp_path, log_dir):
    args = ["experiment=cancer", "trainer.max_epochs=3", "trainer.enable_progress_bar=false", f"paths.log_dir={log_dir}"]
    done = run_module("src.train", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    # nothing that says nothing about the run: an empty FLOPs count, Lightning's CPU/GPU lines, SLURM's srun hint
    output = done.stdout + done.stderr
    for noise in ("Total FLOPs: 0 ", "GPU available: False", "The `srun` command is available", "`Trainer.fit` stopped"):
        assert noise not in output
    assert "Total FLOPs:" in output and "feature columns: 30 numeric" in output
    [run_line] = [line for line in lines if line.startswith("run: ")]
    run_dir = tmp_path / run_line.removeprefix("run: ")
    assert run_line.startswith(f"run: {log_dir}/cancer/runs/") and (run_dir / "metrics.json").is_file()
    [eval_line] = [line for line in lines if line.startswith("evaluate: ")]
    command = shlex.split(eval_line.removeprefix("evaluate: "))
    assert command[:3] == ["python", "-m", "src.eval"]
    evaluated = run_module("src.eval", *command[3:], cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert any(line.startswith(f"run: {log_dir}/eval/") for line in evaluated.stdout.splitlines())


def test_the_printed_eval_command_keeps_the_runs_own_log_dir(tmp_path, capsys):
    # without it, the pasted command evaluated into ./logs/eval, away from the run
    log_dir = tmp_path / "some where"
    run_dir = log_dir / "cancer" / "runs" / "r"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.ckpt").touch()
    (run_dir / "config.yaml").write_text(f"paths:\n  log_dir: {log_dir}\n")
    print_run_folder(run_dir, checkpoint=run_dir / "checkpoints" / "best.ckpt")
    [eval_line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("evaluate: ")]
    assert shlex.split(eval_line)[-1] == f"paths.log_dir={log_dir}"


@pytest.mark.slow  # a subprocess run of the command
def test_the_projects_warnings_are_one_line_each_without_a_source_path(tmp_path):
    from tests.support.tables import table

    frame = table()
    frame.loc[[3, 5], "kind"] = None  # two rows without a target
    frame.to_csv(tmp_path / "t.csv", index=False)
    args = ["experiment=csv", "data.path=t.csv", "data.target=kind", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]
    done = run_module("src.train", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning: data.target 'kind' of t.csv: 2 row(s) without a target are left out\n" in done.stderr
    assert "UserWarning" not in done.stderr and "warnings.warn(" not in done.stderr  # not Python's file:line form


@pytest.mark.slow  # a subprocess run of the command
def test_bf16_mixed_precision_prints_no_python_warning(tmp_path):
    args = ["trainer.precision=bf16-mixed", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]
    done = run_module("src.train", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    # Lightning's model summary cannot size bf16 weights: a file:line warning about a size nobody asked for
    assert "model_summary.py" not in done.stderr and "not supported by the model summary" not in done.stderr
    assert "Total params" in done.stdout  # the summary itself is still printed


@pytest.mark.slow  # a subprocess run of the command
def test_the_learning_rate_finder_prints_no_lines_about_its_temporary_checkpoint(tmp_path):
    args = ["trainer.lr_find=true", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]
    done = run_module("src.train", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    assert "learning-rate finder: suggested model.optimizer.lr=" in output
    # Lightning restores the weights from a hidden .lr_find_<uuid>.ckpt it then deletes; the user never gave a checkpoint
    assert ".lr_find_" not in output and "`weights_only` was not set" not in output


@pytest.mark.parametrize("folder", ["고객", "it's $HOME, a\\"])
def test_the_printed_commands_read_back_the_same_path_for_a_folder_hydra_needs_quoted(tmp_path, capsys, folder):
    # the shell's quotes alone are stripped before Hydra reads the argument, whose lexer then refused a non-ASCII path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from src.runs.resume import resume_command

    log_dir = tmp_path / folder
    run_dir = log_dir / "runs" / "r"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.ckpt").touch()
    (run_dir / "config.yaml").write_text(f"paths:\n  log_dir: {json.dumps(str(log_dir))}\n")
    print_run_folder(run_dir, checkpoint=run_dir / "checkpoints" / "best.ckpt")
    lines = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()[1:]] + [resume_command(run_dir)]
    read = {}
    for line in lines:
        for argument in shlex.split(line)[3:]:
            key = argument.partition("=")[0]
            read.setdefault(key, []).append(OverridesParser.create().parse_override(argument).value())
    assert read["ckpt_path"] == [str(run_dir / "checkpoints" / "best.ckpt")] * 2 + [str(run_dir / "checkpoints" / "last.ckpt")]
    assert read["paths.log_dir"] == [str(log_dir)]
