"""Re-measure published checkpoints on their recipe's validation split, after the split's protocol changed.

A checkpoint's recorded validation metrics are what the next training run must beat, so they have to be
measured the way the recipe measures validation now. This rewrites each entry's `validation` section
(the split's description and metrics, with the date and the reason) and its model card; the weights, the
test metrics and the history of publications stay as they are. `--test`: the arithmetic a metric is measured
in changed too (the bfloat16 codec's, say), so the test metrics are measured again as well (the once for
this checkpoint and this arithmetic), with the date, the reason and the metrics before, in the entry and in
its latest publication in the history.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python scripts/remeasure_validation.py idf-photos idf-gray \\
        --reason "validated on whole photographs instead of 128x128 crops"
"""

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def remeasure(name, reason, data_dir=None, test=False):
    """The new validation section of published `name` (also written into the manifest); with `test`, the test
    metrics too."""
    import zoo
    from zoo import manifest, registry, training

    spec, entry = registry.spec(name), manifest.entry(name)
    if entry is None:
        raise ValueError(f"{name!r} has no published checkpoint to re-measure")
    recipe, model = spec.recipe, zoo.load(name)
    record = {"date": datetime.date.today().isoformat(), "reason": reason}
    metrics = training.evaluate(model, spec, data_dir=data_dir, split=recipe.validation_split)
    before = entry.get("validation", {}).get("metrics")
    entry["validation"] = {**recipe.describe(recipe.validation_split, data_dir), "metrics": metrics,
                           "remeasured": {**record, "metrics_before": before}}
    print(f"{name}: validation {recipe.metric} {before and before.get(recipe.metric)} -> {metrics[recipe.metric]}")
    if test:
        before, entry["metrics"] = entry["metrics"], training.evaluate(model, spec, data_dir=data_dir)
        entry["metrics_remeasured"] = {**record, "metrics_before": before}
        latest = [h for h in entry["history"] if "withdrawn" not in h][-1]  # this checkpoint's publication
        latest["metrics"], latest["metrics_remeasured"] = entry["metrics"], entry["metrics_remeasured"]
        print(f"{name}: test {before} -> {entry['metrics']}")
    manifest.write_entry(name, entry)
    return entry["validation"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--reason", required=True, help="why the validation protocol changed (recorded)")
    parser.add_argument("--test", action="store_true", help="measure the test metrics again as well")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    for name in args.names:
        remeasure(name, args.reason, args.data_dir, test=args.test)
    import write_cards

    write_cards.main()


if __name__ == "__main__":
    main()
