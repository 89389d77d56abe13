"""Recipe variants compared on the validation split: registered models, each with builder and recipe
overrides, trained by their recipes for the same number of epochs, side by side in one run. The
validation metric after chosen epochs and the seconds per epoch make the table. This is how a
recipe change (a builder argument or a recipe field) is chosen; the test split is never touched.

Each variant is `NAME` or `NAME:key=value[,key=value...]`; a key is a builder argument, or
`recipe.FIELD` for a field of the recipe (`idf-photos:levels=5,recipe.crop=128,recipe.batch_size=4`;
a list is JSON: `idf-photos:flows_per_level=[2,4,6,6,6]`; `recipe.initialize` takes a function's dotted
name: `recipe.initialize=zoo.idf.recipes.grown_from_idf_photos`).
Values are read as JSON where they parse (numbers, true/false) and as strings otherwise.

Writes results/variants_<label>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/variant_probe.py snf-fc \\
        snf-fc-mnist snf-fc-mnist:reconstruction_trains=inverse exact-fc-mnist --epochs 10
"""

import argparse
import dataclasses
import hashlib
import importlib
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo import registry, training  # noqa: E402


def parse_variant(text):
    """`NAME:key=value,...` -> (name, {key: value})."""
    name, _, rest = text.partition(":")
    items = re.split(r",(?![^\[]*\])", rest)  # commas inside a JSON list belong to its value
    return name, registry.parse_overrides(filter(None, items), what=f"variant {text!r}")


def variant_spec(variant, initialize=True):
    """The registered spec of `variant` with its builder and recipe overrides (and without the recipe's
    initializer unless `initialize`); an unknown recipe field raises TypeError."""
    name, overrides = parse_variant(variant)
    base = registry.spec(name)
    builder_kw = {k: v for k, v in overrides.items() if not k.startswith("recipe.")}
    recipe_kw = {k.removeprefix("recipe."): v for k, v in overrides.items() if k.startswith("recipe.")}
    if not initialize:
        recipe_kw["initialize"] = None
    elif isinstance(recipe_kw.get("initialize"), str):  # a dotted name: zoo.idf.recipes.grown_from_idf_photos
        module, _, function = recipe_kw["initialize"].rpartition(".")
        recipe_kw["initialize"] = getattr(importlib.import_module(module), function)
    recipe = dataclasses.replace(base.recipe, **recipe_kw)
    return dataclasses.replace(registry.with_builder_overrides(base, builder_kw), recipe=recipe)


def variant_folder(variant):
    """The workdir subfolder of `variant`: named by the variant, so calls that split the variants between
    them (one per core) share one workdir, and a last call with all of them gathers their table."""
    return hashlib.sha256(variant.encode()).hexdigest()[:12]


def run(variant, epochs, workdir, data_dir=None, initialize=True, lr_scale=1.0):
    """Per-epoch validation logs and seconds of one variant trained by its recipe (nothing published).

    `initialize=False` skips the recipe's initializer (a model started from another's weights then
    starts from scratch, as a variant whose shapes differ must)."""
    record, finished = Path(workdir) / "best.json", Path(workdir) / "finished"
    marker = f"{variant} {epochs}" + (f" lr x{lr_scale:g}" if lr_scale != 1 else "") + ("" if initialize else " fresh")
    if finished.exists() and finished.read_text() == marker:  # done in an earlier call
        return json.loads(record.read_text())
    spec = variant_spec(variant, initialize)
    training.train(spec, epochs=epochs, workdir=workdir, data_dir=data_dir, publish=False, lr_scale=lr_scale)
    finished.write_text(marker)
    return json.loads(record.read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("label", help="names the results file, results/variants_LABEL.md")
    parser.add_argument("variants", nargs="+", metavar="NAME[:key=value,...]")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--report-epochs", type=int, nargs="+", default=(1, 5),
                        help="also report the validation metric after these epochs (the last is always reported)")
    parser.add_argument("--workdir", help="keep each variant's run here (default: a temporary folder); a later call naming "
                                          "a variant again (any command, same epochs) skips it when finished and "
                                          "resumes it when interrupted")
    parser.add_argument("--no-initialize", action="store_true",
                        help="skip the recipes' initializers: every variant starts from random weights")
    parser.add_argument("--lr-scale", type=float, default=1.0,
                        help="multiply every variant's learning rate (a continuation of a trained model wants less)")
    parser.add_argument("--report", action="store_true",
                        help="train nothing: the table of the epochs --workdir holds so far ('-' where a variant "
                             "stopped before an epoch)")
    args = parser.parse_args(argv)
    if args.report and not args.workdir:
        parser.error("--report reads the runs of --workdir")
    for variant in args.variants:  # fail on a typo before hours of training
        variant_spec(variant)
    metric = registry.spec(parse_variant(args.variants[0])[0]).recipe.metric
    shown = sorted({e for e in args.report_epochs if e < args.epochs} | {args.epochs})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            folder = Path(args.workdir or tmp) / variant_folder(variant)
            if args.report:
                record = folder / "best.json"
                state = json.loads(record.read_text()) if record.exists() else {"epochs": []}
            else:
                state = run(variant, args.epochs, folder, initialize=not args.no_initialize, lr_scale=args.lr_scale)
            values = [epoch[f"val_{metric}"] for epoch in state["epochs"]]
            seconds = [epoch["seconds"] for epoch in state["epochs"]]
            rows.append([f"`{variant}`", *(f"{values[e - 1]:.4g}" if e <= len(values) else "-" for e in shown),
                         f"{sum(seconds) / len(seconds):.0f}" if seconds else "-"])
            print(rows[-1], flush=True)
    header = ["variant", *(f"validation {metric}, epoch {e}" for e in shown), "s/epoch"]
    table = markdown_table(header, rows)
    print(table)
    start = "from random weights" if args.no_initialize else "from each recipe's starting point"
    start += f", learning rate x{args.lr_scale:g}" if args.lr_scale != 1 else ""
    start += " (stopped early where an epoch shows '-')" if args.report else ""
    write_results(f"variants_{args.label}", f"Recipe variants, {args.epochs} epochs each {start}, "
                                             f"validation {metric}", table)


if __name__ == "__main__":
    main()
