"""Where the bfloat16 codec's bits differ from float32's: `idf-photos` in the codec's arithmetic with one group of
its networks put back in float32 at a time, ideal bits per dimension on the validation photographs, the
training photographs and Kodak.

The codec runs every network's hidden layers in bfloat16 (`Codec(precision="bfloat16")`); the flow stays exact
either way, but other translations give other latents, and other priors other bits. Which group's arithmetic
makes the difference shows where a cheaper fix would have to go. The validation photographs decide; the
training photographs (trained on, but not selected on) and Kodak are reported, the latter decides nothing.
Every arithmetic runs in the compiled graphs the codec runs (eager bfloat16 rounds differently).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_bfloat16_nets.py
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_bfloat16_nets.py --weights runs/idf-photos-x/best.weights.h5

Writes results/idf_bfloat16_nets.md (`--results NAME`: results/NAME.md).
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

GROUPS = ("none", "couplings", "couplings of level 0", "couplings of levels 1-4", "split priors' nets",
          "split priors' context nets", "last prior's context net")


def nets_of(flow, group):
    """The networks of `flow` in `group` (one of GROUPS)."""
    per_level = flow.flows_per_level
    couplings = [coupling.net for coupling in flow.couplings]
    return {
        "none": [],
        "couplings": couplings,
        "couplings of level 0": couplings[:per_level],
        "couplings of levels 1-4": couplings[per_level:],
        "split priors' nets": [prior.net for prior in flow.split_priors],
        "split priors' context nets": [prior.context_net for prior in flow.split_priors if prior.context],
        "last prior's context net": [flow.prior.context_net] if flow.prior.context else [],
    }[group]


def in_float32(flow, group):
    """The codec's bfloat16 copy of `flow` with the networks of `group` back in float32."""
    from zoo.idf.codec import bfloat16_copy

    copy = bfloat16_copy(flow)
    for net in nets_of(copy, group):
        net.set_precision("float32")
    return copy


def mean_bits(flow, images):
    """`flow`'s bits per dimension averaged over `images` (each photograph alike, as the harness averages)."""
    import tensorflow as tf

    measure = tf.function(flow.__call__, reduce_retracing=True)
    return sum(float(measure(image[None])[0]) for image in images) / len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="a weights file of idf-photos instead of the published one")
    parser.add_argument("--results", default="idf_bfloat16_nets", help="the results file's name (default %(default)s)")
    args = parser.parse_args(argv)
    import zoo
    from zoo import data, registry

    flow = zoo.load("idf-photos")
    if args.weights:
        flow.load_weights(args.weights)
    recipe = registry.spec("idf-photos").recipe
    sets = {"validation": recipe.load(recipe.validation_split),
            "training photographs": data.photo_images(data.photo_files(recipe.collection, "train"), recipe.mode,
                                                      recipe.validation_multiple),
            "Kodak (reported only)": recipe.load(recipe.eval_split)}
    sets = {name: [image for image, _ in images.as_numpy_iterator()] for name, images in sets.items()}
    float32 = {name: mean_bits(flow, images) for name, images in tqdm(sets.items(), desc="float32")}
    rows = [["all in float32", *(f"{float32[name]:.6f}" for name in sets), *("" for _ in sets)]]
    for group in tqdm(GROUPS, desc="groups"):
        copy = in_float32(flow, group)
        bits = {name: mean_bits(copy, images) for name, images in sets.items()}
        rows.append([f"bfloat16, {group} in float32" if group != "none" else "bfloat16 (the codec)",
                     *(f"{bits[name]:.6f}" for name in sets), *(f"{bits[name] - float32[name]:+.6f}" for name in sets)])
        print(rows[-1], flush=True)
    table = markdown_table(["arithmetic", *sets, *(f"vs float32, {name}" for name in sets)], rows)
    counts = ", ".join(f"{len(images)} {name}" for name, images in sets.items())
    write_results(args.results, "Where the bfloat16 codec's bits differ from float32's (`idf-photos`, ideal bits/dim)",
                  table, notes=f"{counts}; each photograph weighted alike. Weights: {args.weights or 'published'}.")


if __name__ == "__main__":
    main()
