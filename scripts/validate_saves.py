"""Measure the weights a run saved along the way (`WORKDIR/epochNNNN.weights.h5`, as
`scripts/train_idf_photos_jax.py` writes them) on the model's validation split, and write the table:
which one to publish is chosen here, on validation, never on the test split.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python scripts/validate_saves.py idf-photos runs/idf-photos-jax-h200 \\
        --results run_idf-photos-jax-h200 --title "idf-photos, 248 epochs on an H200 (JAX)"

Writes results/<--results>.md and WORKDIR/validation.json; then publish the best with
`zoo train NAME --from-weights WORKDIR/epochNNNN.weights.h5 --epochs 0`.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))


def measure(name, files, data_dir=None):
    """{epoch: the recipe's validation metric} of each weights file of registered model `name`."""
    import zoo
    from zoo import checkpoint, hub, registry, training

    zoo.register_all()
    spec = registry.spec(name)
    model = checkpoint.load(hub.fetch(name).files["config.json"], files[0])
    out = {}
    for path in files:
        model.load_weights(path)
        epoch = _epoch(path)
        out[epoch] = training.evaluate(model, spec, data_dir=data_dir, split=spec.recipe.validation_split)[
            spec.recipe.metric]
        print(f"{path}: {out[epoch]:.6f}", flush=True)
    return spec.recipe, out


def _epoch(path):
    return int(re.fullmatch(r"epoch(\d+)\.weights\.h5", Path(path).name).group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--results", required=True, help="writes results/RESULTS.md")
    parser.add_argument("--title", required=True)
    parser.add_argument("--data-dir", help="tfds data folder (default $ZOO_DATA_DIR)")
    args = parser.parse_args(argv)
    files = sorted(args.workdir.glob("epoch*.weights.h5"))
    if not files:
        raise SystemExit(f"no epochNNNN.weights.h5 in {args.workdir}")
    recipe, metrics = measure(args.name, files, args.data_dir)
    log = json.loads((args.workdir / "log.json").read_text()) if (args.workdir / "log.json").is_file() else {}
    losses = {c["epoch"]: c for c in log.get("chunks", [])}
    best = (max if recipe.higher_is_better else min)(metrics, key=metrics.get)
    (args.workdir / "validation.json").write_text(json.dumps(
        {"monitor": f"val_{recipe.metric}", "best_epoch": best, "metrics": metrics}, indent=1))
    from results_file import markdown_table, write_results

    rows = [[f"{epoch}" + (" (best)" if epoch == best else ""), f"{value:.6f}",
             f"{losses[epoch]['loss']:.5f}" if epoch in losses else "", f"{losses[epoch]['seconds']:.0f}" if epoch in losses else ""]
            for epoch, value in sorted(metrics.items())]
    table = markdown_table(["epoch", f"val_{recipe.metric}", "training loss (that epoch)", "seconds"], rows)
    print(table)
    run = ""
    if log.get("seconds_per_step"):
        run = (f" The run: {', '.join(log['devices'])}, {log['backend']} backend, {log['seconds_per_step'] * 1e3:.1f} ms "
               f"a step after {losses[min(losses)]['seconds']:.0f} s to its first epoch (reading the photographs, "
               f"compiling).")
    write_results(args.results, args.title, table, notes=f"The weights saved in `{args.workdir.as_posix()}`, each "
                  f"measured on `{args.name}`'s validation split; training loss and seconds from its log.json.{run}")


if __name__ == "__main__":
    main()
