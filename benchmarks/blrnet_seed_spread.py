"""The CIFAR-10 PBNet against the BNN with the seed spread of each: is PBNet's MAP network at least the BNN?

Reads what the runs already measured, trains nothing. The BNN (`blrnet-ste-cifar10`): its recipe's seeds
as `scripts/seeds.py` ran them (the manifest's run for seed 0, `runs/blrnet-ste-cifar10-seedS/seed_result.json`
for the others). The PBNet (`blrnet-cifar10`): every run the manifest records (published entry and
history) of the chain given by `--chain` (the end of its train command), one per seed. Each run was
measured once on the test split when it was published; the table gives mean +- sd per model and the
difference of the test means with its standard error (`scripts/seeds.py`'s table).

Usage:
    python benchmarks/blrnet_seed_spread.py --bnn-seeds 0 1 2 \\
        --chain "--set binarize=sample --epochs 10 --lr-scale 0.3"

Writes results/blrnet_cifar10_seed_spread.md.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]
import seeds as sweep  # noqa: E402
from results_file import write_results  # noqa: E402

BNN, PBNET = "blrnet-ste-cifar10", "blrnet-cifar10"


def bnn_runs(seeds, epochs=30):
    """The BNN recipe's seed runs, as `scripts/seeds.py` recorded them."""
    runs = []
    for seed in seeds:
        run = sweep.published_run(BNN, seed, epochs)
        path = ROOT / "runs" / f"{BNN}-seed{seed}" / "seed_result.json"
        if run is None and not path.exists():
            raise SystemExit(f"no run of {BNN} seed {seed}: run scripts/seeds.py {BNN} --seeds {seed} first")
        runs.append(run or json.loads(path.read_text()))
    return runs


def chain_runs(chain):
    """Every run of `blrnet-cifar10` the manifest records whose train command's last step contains `chain`,
    one per seed (the latest of a seed), each with the validation and test metrics it was published with."""
    from zoo import registry

    runs = {}
    for run in reversed(sweep.recorded_runs(PBNET)):  # oldest first: a seed's latest run stays
        last = run.get("command", "").split("&&")[-1]
        if chain in last and "withdrawn" not in run:
            seed = int(last.split("--seed ")[1].split()[0]) if "--seed " in last else registry.spec(PBNET).recipe.seed
            runs[seed] = {"seed": seed, "validation": run["validation_metrics"], "test": run["metrics"],
                          "published": bool(run.get("current"))}
    if not runs:
        raise SystemExit(f"the manifest records no run of {PBNET} whose last step contains {chain!r}")
    return [runs[s] for s in sorted(runs)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bnn-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--chain", default="--set binarize=sample --epochs 10 --lr-scale 0.3")
    args = parser.parse_args(argv)
    results = {BNN: bnn_runs(args.bnn_seeds), PBNET: chain_runs(args.chain)}
    table = sweep.table(results, {BNN: "accuracy", PBNET: "map_accuracy"})
    print(table)
    write_results("blrnet_cifar10_seed_spread",
                  f"CIFAR-10: the BNN's seeds (30 epochs; its best within 40) against PBNet's (the chain ending "
                  f"`{args.chain}`, 40 epochs; its seeds share the 30 propagate epochs), MAP / binary accuracy",
                  table)


if __name__ == "__main__":
    main()
