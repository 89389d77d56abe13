"""The bfloat16 codec's priors: their mean heads rounded to bfloat16's 8 bits (the arithmetic of streams made
before they were refined) against refined to about float32 (`IntegerDiscreteFlow.set_mixed_precision`), beside
float32, on the validation photographs as they are and brightened per channel and clipped at 255.

A prior's mean is emitted in lattice units; rounded to 8 bits, one near 128 (a bright pixel, the pixels being
centred on 128) moves by up to a quarter of a unit, which costs bits where the prior is sharp: smooth bright
regions such as skies. Brightening the validation photographs (as `idf_highlights.py` does) makes such regions
common without touching Kodak. Bits are the ideal -log2 P per dimension, each photograph weighted by its size,
every arithmetic in the compiled graphs the codec runs (eager bfloat16 rounds differently).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_prior_heads.py \\
        "published=hub/zoo-models/idf-photos/model.weights.h5" "a run=runs/idf-photos-x/best.weights.h5"

Writes results/idf_prior_heads.md (`--results NAME`: results/NAME.md).
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from idf_highlights import brightened  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

SHIFTS = ((0, 0, 0), (32, 32, 8), (128, 128, 0))
ARITHMETICS = ("float32", "bfloat16, rounded prior heads", "bfloat16, refined prior heads")


def arithmetics(flow):
    """{arithmetic: a compiled function of a batch of images to their bits per dimension}."""
    import tensorflow as tf

    from zoo.idf.codec import bfloat16_copy

    flows = (flow, bfloat16_copy(flow, prior_heads="rounded"), bfloat16_copy(flow))
    return {name: tf.function(f.__call__, reduce_retracing=True) for name, f in zip(ARITHMETICS, flows)}


def bits_per_dim(measure, images):
    """`measure`'s bits per dimension over `images`, each weighted by its size."""
    return sum(float(measure(image[None])[0]) * image.size for image in images) / sum(image.size for image in images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", metavar="LABEL=WEIGHTS",
                        help="a weights file of idf-photos (a run's best.weights.h5 or a published model.weights.h5)")
    parser.add_argument("--results", default="idf_prior_heads", help="the results file's name (default %(default)s)")
    args = parser.parse_args(argv)
    import zoo
    from zoo import data, registry

    recipe = registry.spec("idf-photos").recipe
    files = data.photo_files(recipe.collection, recipe.validation_split)
    photos = [image for image, _ in data.photo_images(files, recipe.mode, recipe.validation_multiple).as_numpy_iterator()]
    sets = {shift: [brightened(photo, shift) for photo in photos] for shift in SHIFTS}
    rows = []
    for text in args.checkpoints:
        label, sep, weights = text.partition("=")
        if not sep:
            raise SystemExit(f"{text!r}: give LABEL=WEIGHTS")
        flow = zoo.load("idf-photos")
        flow.load_weights(weights)
        bits = {(name, shift): bits_per_dim(measure, sets[shift])
                for name, measure in tqdm(arithmetics(flow).items(), desc=label) for shift in SHIFTS}
        for name in ARITHMETICS:
            excess = [bits[name, shift] - bits["float32", shift] for shift in SHIFTS]
            rows.append([label, name, *(f"{bits[name, shift]:.5f}" for shift in SHIFTS),
                         *("" if name == "float32" else f"{e:+.5f}" for e in excess)])
            print(rows[-1], flush=True)
    shifts = [f"+{r}/+{g}/+{b}" for r, g, b in SHIFTS]
    table = markdown_table(["checkpoint", "arithmetic", *(f"validation {s}" for s in shifts),
                            *(f"vs float32, {s}" for s in shifts)], rows)
    write_results(args.results, f"The bfloat16 codec's prior heads on the {len(photos)} validation photographs, as they "
                                f"are and brightened (ideal bits/dim)", table,
                  notes="+R/+G/+B: added per channel, clipped at 255; +0/+0/+0 is the photographs as they are. Each "
                        "photograph weighted by its size (the harness's validation metric weights each photograph alike).")


if __name__ == "__main__":
    main()
