"""A refused run leaves no run folder, says what to fix in one line, and fails fast: run as a user runs it, from the
repository root with the default relative `logs/`."""

import os
import sys

import pytest

from tests.conftest import ROOT, run_module

pytestmark = pytest.mark.slow  # subprocess runs of the command


@pytest.fixture
def name():
    """An experiment name no other run uses: its runs would go under logs/<name>/."""
    name = f"refused_{os.getpid()}"
    yield name
    assert not (ROOT / "logs" / name).exists(), "a refused run left a folder under logs/"


def refused(*args: str) -> str:
    done = run_module("src.train", *args)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


def test_a_bad_setting_is_refused_before_hydra_makes_the_run_folder(name):
    assert "trainer.max_epochs must be an integer >= 1; got 0" in refused(f"name={name}", "trainer.max_epochs=0")


def test_a_net_setting_refused_after_the_data_is_read_leaves_no_run_folder(name):
    message = refused(f"name={name}", "model.net.hidden=[64,0]", "trainer.max_epochs=1")
    assert "model.net.hidden must be a list of positive integers" in message


def test_a_monitor_or_device_refused_once_the_model_is_built_leaves_no_run_folder(name):
    message = refused(f"name={name}", "callbacks.early_stopping.monitor=val_xyz", "trainer.max_epochs=1")
    assert "EarlyStopping monitors 'val_xyz', which this model does not log" in message
    import torch

    if not torch.cuda.is_available():  # a traceback from Lightning before
        assert "torch sees no GPU on this machine" in refused(f"name={name}", "trainer.accelerator=gpu", "trainer.max_epochs=1")


def test_settings_the_trainer_refuses_leave_no_run_folder(name):
    rich = "+callbacks.rich={_target_:lightning.pytorch.callbacks.RichProgressBar}"  # beside the epoch bar, not instead
    message = refused(f"name={name}", "trainer.max_epochs=1", "trainer.enable_progress_bar=true", rich)
    assert "the Trainer refuses these settings: You added multiple progress bar callbacks" in message


@pytest.mark.parametrize(
    "override, expected",
    [
        ("trainer.accelerator=cpuu", "the Trainer refuses these settings: You selected an invalid accelerator name"),
        ("callbacks.early_stopping.mode=minimum", "callbacks.early_stopping: `mode` can be min, max, got minimum"),
        ("+callbacks.x={patience:3}", "callbacks.x needs a _target_"),
        ("+callbacks.x={_target_:torch.nn.Linear,in_features:2,out_features:2}", "torch.nn.Linear is not a Lightning Callback"),
        ("+model.optimizer.momentum=0.9", "model.optimizer.momentum is not a setting of Adam"),
        ("model/net=resnet model.net.d_hidden_multiplier=0", "model.net.d_hidden_multiplier must be a number > 0"),
        ("+data.foo=1", "data: TabularDataModule.__init__() got an unexpected keyword argument 'foo'"),
        ("+data.source.n_rows=5", "data.source.n_rows is not a setting of src.data.sources.breast_cancer (settings: none)"),
    ],
)
def test_a_setting_lightning_a_callback_the_optimizer_or_a_net_refuses_is_one_line_and_leaves_no_run_folder(
    name, override, expected
):
    # each was a Hydra error, a traceback or (the multiplier) a net with empty layers, and left a run folder
    assert expected in refused(f"name={name}", "trainer.max_epochs=1", *override.split())


def test_a_misspelt_key_gets_a_suggestion(name):
    assert "did you mean trainer.max_epochs?" in refused(f"name={name}", "trainer.max_epoch=5")
    assert "did you mean data=cancer?" in refused(f"name={name}", "data=cancr")
    assert "did you mean trainer.max_epochs?" in refused(f"name={name}", "-m", "trainer.max_epoch=1,2")  # a sweep too


def test_a_sweep_shorthand_without_dash_m_says_to_add_it(name):
    # without -m, cv.folds=3 crashed with a TypeError and seeds=3 ran one run at seed 0
    assert (
        "cv.folds=3 stands for one job per fold, a multirun of the default sweeper: add -m (python -m src.train -m cv.folds=3"
        in (refused(f"name={name}", "cv.folds=3"))
    )
    assert "seeds=3 stands for one job per seed" in refused(f"name={name}", "seeds=3")
    # with a sweep of seed as well, the sweep won and seeds=3 was dropped without a word
    assert "seeds=3 and a sweep of seed both choose the seeds" in refused("-m", f"name={name}", "seeds=3", "seed=0,1")
    # an Optuna search ran every trial into the same TypeError, or ignored seeds
    search = [f"name={name}", "hparams_search=cancer_optuna", f"hydra.sweeper.study_name={name}"]
    assert "one fold: cv.fold=0..2" in refused(*search, "cv.folds=3")
    assert "one run: seed=<n>" in refused(*search, "seeds=3")


def test_an_unknown_target_is_refused_from_the_header_without_importing_torch(name, tmp_path):
    table = tmp_path / "houses.csv"
    table.write_text("rooms,area,price\n3,70,100\n4,90,150\n")
    args = ["experiment=csv", f"data.path={table}", "data.target=prise", f"name={name}"]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['src.train', *{args!r}]\n"
        "try:\n    runpy.run_module('src.train', run_name='__main__')\n"
        "except SystemExit as exc:\n    print('exit', exc.code, 'torch' in sys.modules, 'lightning' in sys.modules)\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "error: data.target 'prise' is not a column of" in done.stderr and "columns: rooms, area, price" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == "exit 2 False False"


def test_a_run_folder_given_as_ckpt_path_is_understood(cancer_run, tmp_path):
    run_dir, result = cancer_run
    done = run_module("src.eval", f"ckpt_path={run_dir}", f"paths.log_dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "best.ckpt" in done.stdout + done.stderr
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    done = run_module("src.eval", f"ckpt_path={empty}", f"paths.log_dir={tmp_path}")
    assert done.returncode == 2 and f"give a checkpoint file, e.g. {empty}/checkpoints/best.ckpt" in done.stderr


def test_a_checkpoint_from_other_data_names_the_data_it_was_trained_on(cancer_run):
    run_dir, _ = cancer_run
    message = refused("experiment=penguins", f"ckpt_path={run_dir}")
    assert "was trained on other data (data.source._target_=src.data.sources.breast_cancer)" in message
    assert not list((run_dir / ".hydra").glob("resumed_*"))  # the refused start's config copy is gone too


def test_a_refused_evaluation_leaves_no_folder_under_logs_eval(tmp_path):
    # from a working folder of its own, so that other evaluations' folders under the repository's logs/ do not count
    done = run_module("src.eval", f"ckpt_path={tmp_path / 'missing.ckpt'}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: checkpoint not found"), done.stderr[-2000:]
    assert not (tmp_path / "logs").exists()


def test_eval_into_a_folder_that_cannot_be_made_is_one_line(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    (tmp_path / "a_file").write_text("")
    done = run_module("src.eval", f"ckpt_path={run_dir}", f"paths.log_dir={tmp_path / 'a_file' / 'logs'}")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]  # Hydra's mkdir traceback before
    assert f"error: no folder can be made at {tmp_path / 'a_file' / 'logs' / 'eval'}" in done.stderr


def test_a_moved_run_is_not_resumed_in_its_new_folder(cancer_run, tmp_path):
    import shutil

    run_dir, _ = cancer_run
    moved = tmp_path / "cancer" / "runs" / run_dir.name
    shutil.copytree(run_dir, moved)
    (moved / "metrics.json").unlink()  # as a run killed while training leaves it
    message = refused(f"ckpt_path={moved / 'checkpoints' / 'last.ckpt'}", f"paths.log_dir={tmp_path}")
    assert f"{moved} was trained in {run_dir} and has been moved or copied since" in message


def test_a_refused_ensemble_leaves_no_folder_under_logs_ensemble(tmp_path):
    done = run_module("src.ensemble", f"runs={tmp_path / 'missing'}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: runs: no such run folder"), done.stderr[-2000:]
    assert not (tmp_path / "logs").exists()
