"""A training run's record (`WORKDIR/best.json`, written by `zoo train` after every epoch) as a committed
results table: chosen columns every few epochs, the best epoch marked. This is how a run that was
stopped, or not published, still backs a figure in the README or a docs page.

Usage:
    python scripts/run_record.py runs/snf-fc-mnist-inverse val_nll_nats val_recon_0 val_recon_2 \\
        --every 3 --results run_snf-fc-mnist-inverse --title "snf-fc-mnist with R-only reconstruction"

Writes results/<--results>.md.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def rows(state, columns, every):
    """Table rows: every `every`-th epoch, the first, the last and the best, each with `columns` (blank in
    epochs that did not log one: a run resumed after its recipe's metric changed)."""
    epochs = state["epochs"]
    logged = {c for e in epochs for c in e}
    missing = sorted(c for c in columns if c not in logged)
    if missing:
        raise SystemExit(f"no column {', '.join(missing)} in the record; it has {', '.join(sorted(logged))}")
    keep = {1, len(epochs), state["best_epoch"]} | set(range(every, len(epochs) + 1, every))
    return [
        [f"{e['epoch']}" + (" (best)" if e["epoch"] == state["best_epoch"] else ""),
         *(f"{e[c]:.6g}" if c in e else "" for c in columns), f"{e['seconds']:.0f}"]
        for e in epochs if e["epoch"] in keep
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("columns", nargs="+", help="logged values, e.g. val_nll_nats")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--results", required=True, help="writes results/RESULTS.md")
    parser.add_argument("--title", required=True)
    args = parser.parse_args(argv)
    record = args.workdir / "best.json"
    if not record.exists():
        raise SystemExit(f"{record} is missing: is {args.workdir} a `zoo train` workdir?")
    state = json.loads(record.read_text())
    from results_file import markdown_table, write_results

    table = markdown_table(["epoch", *args.columns, "seconds"], rows(state, args.columns, args.every))
    print(table)
    write_results(args.results, args.title, table, notes=f"Read from `{args.workdir.as_posix()}/best.json`; "
                  f"the best epoch by `{state['monitor']}`.")


if __name__ == "__main__":
    main()
