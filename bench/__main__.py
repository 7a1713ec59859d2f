"""Run every ``bench/bench_*.py`` module, print a table, write ``bench/results.json``."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentledger.settings import Settings
from bench.result import Result
from infra.runtime import tune_garbage_collector

HERE = Path(__file__).parent


def main() -> int:
    """Run the benchmarks named on the command line (default: all) and record the results."""
    wanted = sys.argv[1:]
    tune_garbage_collector()  # as every agentledger process does (agentledger.cli.main)
    modules = sorted(path.stem for path in HERE.glob("bench_*.py"))
    settings = Settings()
    results: list[Result] = []
    console = Console()
    for name in modules:
        if wanted and name.removeprefix("bench_") not in wanted:
            continue
        console.print(f"[dim]running {name}…[/]")
        results.extend(importlib.import_module(f"bench.{name}").run(settings))
    (HERE / "results.json").write_text(json.dumps([r.as_json() for r in results], indent=2) + "\n")
    table = Table("benchmark", "value", "unit", "goal", "met")
    for result in results:
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[result.meets_goal()]
        goal = (
            "-"
            if result.goal is None
            else f"{'≥' if result.better == 'higher' else '≤'} {result.goal:g}"
        )
        table.add_row(
            result.name, f"{result.value:,.2f}".rstrip("0").rstrip("."), result.unit, goal, met
        )
    console.print(table)
    console.print(f"written to {HERE / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
