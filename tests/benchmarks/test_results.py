"""`make results` writes docs/results.md from what it measured (a shortened run here: the real one is long)."""

import json

import pytest

from benchmarks.results import (
    README_END,
    README_START,
    Experiment,
    Measured,
    environment,
    main,
    read_experiments,
    render,
    results_table,
    update_readme,
)


def test_every_documented_experiment_is_listed_once_with_its_seeds():
    experiments = read_experiments()
    assert len({e.name for e in experiments}) == len(experiments)
    assert {"cancer", "housing", "housing_tuned"} <= {e.name for e in experiments}
    assert all(e.seeds and e.metrics and e.command.startswith("python -m ") for e in experiments)


def test_the_page_shows_what_was_measured_and_where():
    experiment = Experiment("cancer", "python -m src.train experiment=cancer", [0], ["test_acc", "test_f1"], "accuracy 0.9912")
    run = Measured(
        "cancer",
        0,
        "python -m src.train experiment=cancer seed=0",
        {"test_acc": 0.99122807, "test_f1": 0.9934},
        21,
        121,
        2.4,
        8.3,
        torch_threads=1,
    )
    failed = Measured("cancer", 1, "python -m src.train experiment=cancer seed=1", wall_time_s=1.0, error="error: no space")
    page = render([experiment], [run, failed], environment(), [])
    assert "| `cancer` | 0 | acc 0.9912, f1 0.9934 | 21 | 121 | 1 | 2.4 s | 8.3 s | accuracy 0.9912 |" in page
    assert "| `cancer` | 1 | failed: error: no space |" in page
    assert "torch " in page and "lightning " in page and " UTC on " in page
    assert "Shortened" not in page
    assert "Shortened runs" in render([experiment], [run], environment(), ["trainer.max_epochs=2"])


@pytest.mark.slow
def test_make_results_runs_the_commands_and_writes_the_page(tmp_path):
    out = tmp_path / "results.md"
    assert main(["--only", "cancer", "--out", str(out), "--logs", str(tmp_path / "logs"), "trainer.max_epochs=2"]) == 0
    results = json.loads(out.with_suffix(".json").read_text())
    [run] = results["runs"]
    metrics = json.loads(next((tmp_path / "logs").rglob("metrics.json")).read_text())
    assert run["test"] == metrics["test"] and run["stopped_epoch"] == 2 and run["seed"] == 0
    assert f"acc {metrics['test']['test_acc']:.4f}" in out.read_text()
    assert results["environment"]["libraries"]["torch"] and results["overrides"] == ["trainer.max_epochs=2"]


def test_seeds_of_one_experiment_end_in_their_mean_and_sd_and_the_readme_shows_the_same_table(tmp_path):
    experiment = Experiment("housing_best", "python -m src.train experiment=housing_best", [0, 1, 2], ["test_r2"])
    runs = [Measured("housing_best", seed, "", {"test_r2": r2}, 5, 9, 10.0, 12.0) for seed, r2 in enumerate([0.85, 0.86, 0.87])]
    table = results_table([experiment], runs)
    assert table[-1].startswith("| `housing_best` | **mean ± sd of 3** | r2 0.8600 ± 0.0100 |")
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{README_START}\nold table\n{README_END}\nrest\n")
    assert update_readme(table, readme)
    assert readme.read_text() == "# intro\n" + README_START + "\n" + "\n".join(table) + "\n" + README_END + "\nrest\n"


def test_rows_kept_from_an_earlier_page_keep_their_date(tmp_path, monkeypatch):
    """`--only` reruns one experiment: the page says when each kept row was measured, not only today; a variant
    (`in_readme: false`) is on the page but not in the README's table."""
    import benchmarks.results as results_doc

    experiments = [
        Experiment("cancer", "python -m src.train experiment=cancer", [0], ["test_acc"]),
        Experiment("cancer_variant", "python -m src.train experiment=cancer seed=1", [0], ["test_acc"], in_readme=False),
    ]
    earlier = {"date": "2026-01-02 03:04 UTC", "cpu": "x", "cpu_count": 2, "platform": "p", "libraries": {}}
    kept = Measured("cancer_variant", 0, "", {"test_acc": 0.5}, 1, 2, 1.0, 2.0)
    out = tmp_path / "results.md"
    out.with_suffix(".json").write_text(json.dumps({"environment": earlier, "overrides": [], "runs": [vars(kept)]}))
    fresh = Measured("cancer", 0, "", {"test_acc": 0.9}, 1, 2, 1.0, 2.0, date="2026-02-03 04:05 UTC")
    monkeypatch.setattr(results_doc, "read_experiments", lambda: experiments)
    monkeypatch.setattr(results_doc, "run_experiment", lambda *args: fresh)
    monkeypatch.setattr(results_doc, "DEFAULT_OUT", out)
    readme_tables = []
    monkeypatch.setattr(results_doc, "update_readme", lambda table: readme_tables.append(table) or True)
    assert main(["--only", "cancer", "--out", str(out)]) == 0
    page = out.read_text()
    assert "Measured from 2026-01-02 03:04 UTC to 2026-02-03 04:05 UTC" in page
    runs = {run["experiment"]: run for run in json.loads(out.with_suffix(".json").read_text())["runs"]}
    assert runs["cancer_variant"]["date"] == "2026-01-02 03:04 UTC" and runs["cancer"]["date"] == "2026-02-03 04:05 UTC"
    assert "| `cancer_variant` | 0 | acc 0.5000 |" in page
    [readme_table] = readme_tables  # the README's table: the variant is on the page only
    assert any(row.startswith("| `cancer` |") for row in readme_table)
    assert not any("cancer_variant" in row for row in readme_table)


def test_several_names_after_only_run_those_and_a_stray_name_is_refused_before_any_run(tmp_path, monkeypatch, capsys):
    import benchmarks.results as results_doc

    experiments = [Experiment(name, f"python -m src.train experiment={name}", [0], ["test_acc"]) for name in ("a", "b", "c")]
    ran = []
    monkeypatch.setattr(results_doc, "read_experiments", lambda: experiments)
    monkeypatch.setattr(results_doc, "update_readme", lambda table: True)

    def run(experiment, seed, overrides, logs):
        ran.append((experiment.name, tuple(overrides)))
        return Measured(experiment.name, seed, "", {"test_acc": 1.0}, 1, 1, 1.0, 1.0)

    monkeypatch.setattr(results_doc, "run_experiment", run)
    out = str(tmp_path / "results.md")
    assert main(["--only", "a", "c", "trainer.max_epochs=2", "--out", out]) == 0
    assert ran == [("a", ("trainer.max_epochs=2",)), ("c", ("trainer.max_epochs=2",))]
    ran.clear()
    assert main(["--only", "a", "--out", out, "b"]) == 2  # `b` after the options is not an override
    assert ran == [] and "error: b: not a key=value override" in capsys.readouterr().err


def test_a_failed_run_is_reported_by_its_error_not_by_hydras_hint():
    from benchmarks.results import error_line

    hydra = "Error parsing override 'k8'\nmissing EQUAL at '<EOF>'\nSee https://hydra.cc/docs/x\n\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
    assert error_line(hydra, 1) == "Error parsing override 'k8'"
    assert error_line("Traceback (most recent call last):\n  File x\nValueError: bad value\n", 1) == "ValueError: bad value"
    assert error_line("columns: 8 numeric\nerror: data.batch_size must be positive; got 0\n", 1).startswith(
        "error: data.batch_size"
    )
    assert error_line("", 137) == "exit status 137"


SUITE = {
    "seeds": [0],
    "reference": "lightgbm",
    "tables": [
        {"name": "small", "data": "pkg/small", "target": "y", "about": "binary"},
        {"name": "prices", "data": "pkg/prices", "target": "price", "about": "regression"},
    ],
    "contenders": {"net": "python -m src.train experiment=csv", "lightgbm": "python -m src.baseline experiment=csv"},
}


def test_the_suite_runs_every_contender_on_every_table_and_shows_each_ratio_to_the_reference():
    from benchmarks.results import suite_experiments, suite_section

    experiments = suite_experiments(SUITE)
    assert [e.name for e in experiments] == [
        "suite/small/net",
        "suite/small/lightgbm",
        "suite/prices/net",
        "suite/prices/lightgbm",
    ]
    assert experiments[2].command == "python -m src.train experiment=csv data.path=logs/suite/tables/prices.csv data.target=price"
    scores = {
        "suite/small/net": {"test_acc": 0.9},
        "suite/small/lightgbm": {"test_acc": 0.8},
        "suite/prices/lightgbm": {"test_r2": 0.5},
    }
    measured = [Measured(name, 0, "", test, train_and_test_s=10.0, wall_time_s=12.0) for name, test in scores.items()]
    measured.append(Measured("suite/prices/net", 0, "", wall_time_s=1.0, error="error: bad table"))
    lines = suite_section(SUITE, measured)
    assert "| small | pkg/small |  | binary | 0.9000 (10 s) | 0.8000 (10 s) | 1.125 |" in lines
    assert "| prices | pkg/prices |  | regression | failed | 0.5000 (10 s) |  |" in lines
    assert lines[-4 - len(SUITE["contenders"])].startswith("| **all tables** | | | | 10 s | 20 s | mean 1.125, worst 1.125 |")


def test_two_only_runs_at_once_keep_each_others_rows(tmp_path, monkeypatch):
    """The rows of experiments not run are read when the page is written, not when the run started."""
    import benchmarks.results as results_doc

    experiments = [Experiment(name, f"python -m src.train experiment={name}", [0], ["test_acc"]) for name in ("a", "b")]
    out = tmp_path / "results.md"
    monkeypatch.setattr(results_doc, "read_experiments", lambda: experiments)
    monkeypatch.setattr(results_doc, "update_readme", lambda table: True)

    def run(experiment, seed, overrides, logs):
        if experiment.name == "a":  # while `a` runs, another `--only b` finishes and writes the page
            monkeypatch.setattr(results_doc, "run_experiment", lambda *args: Measured("b", 0, "", {"test_acc": 0.2}))
            assert main(["--only", "b", "--out", str(out)]) == 0
        return Measured(experiment.name, seed, "", {"test_acc": 0.1})

    monkeypatch.setattr(results_doc, "run_experiment", run)
    assert main(["--only", "a", "--out", str(out)]) == 0
    runs = {r["experiment"]: r["test"]["test_acc"] for r in json.loads(out.with_suffix(".json").read_text())["runs"]}
    assert runs == {"a": 0.1, "b": 0.2}
