"""Fitting a photo flow's last prior to whole photographs, side by side at several learning rates: the last
prior's bits per image dimension on the training photographs (fitted on) and the validation photographs
(chosen on), the flow fixed. With context in the last prior, the bits of its mixtures' share (the first
coding stage), the only values they code.

`zoo.idf.recipes.fit_last_prior`, the photo recipes' finish step, refits only the last prior (a mixture per
channel) on the last latents of the whole training photographs; this script is how its learning rate was
chosen. Each row starts again from the same weights.

Writes results/idf_last_prior.md (or results/NAME.md with --results NAME).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_last_prior.py idf-photos \\
        --weights runs/idf-photos-low/best.weights.h5 --learning-rates 0.01 0.03 0.1
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos")
    parser.add_argument("--weights", help="a weights file of the model (default: the published checkpoint)")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--results", default="idf_last_prior", help="results file name (results/NAME.md)")
    args = parser.parse_args(argv)
    import zoo
    from zoo import manifest, registry
    from zoo.idf.recipes import fit_last_prior_to_counts, last_latent_counts, last_prior_bits

    recipe = registry.spec(args.model).recipe
    model = zoo.load(args.model)
    if args.weights:
        model.load_weights(args.weights)
    train, validation = (last_latent_counts(model, recipe._files(split), recipe.mode, recipe.validation_multiple)
                         for split in (recipe.train_split, recipe.validation_split))
    as_trained = model.prior.get_weights()
    before = float(last_prior_bits(model, validation))
    rows = [["as trained (on crops)", "0", f"{float(last_prior_bits(model, train)):.5f}", f"{before:.5f}", "+0.00000"]]
    for rate in args.learning_rates:
        model.prior.set_weights(as_trained)  # every row from the same weights; the latents do not change
        _, after_train = fit_last_prior_to_counts(model, train, args.steps, rate)
        after = float(last_prior_bits(model, validation))
        rows.append([f"{rate:g}", str(args.steps), f"{after_train:.5f}", f"{after:.5f}", f"{after - before:+.5f}"])
    table = markdown_table(["learning rate", "steps", "training photographs", "validation photographs",
                            "change on validation"], rows)
    print(table)
    weights = args.weights or "the published checkpoint"
    sha = manifest.sha256(Path(args.weights)) if args.weights else manifest.entry(args.model)["files"]["model.weights.h5"]["sha256"]
    write_results(args.results, f"{args.model}: its last prior fitted to the whole training photographs, "
                  "last-prior bits per image dimension", table,
                  notes=f"Weights: {weights} (sha256 {sha[:12]}); Adam, each row from the same weights.")


if __name__ == "__main__":
    main()
