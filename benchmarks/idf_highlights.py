"""Blown-out highlights: what checkpoints of `idf-photos` pay for channels clipped at 255, on the validation
photographs as they are and brightened per channel (red, green, blue) by fixed amounts and clipped at 255
(the overexposed sky of Kodak's kodim20 has red and green at 255 and blue still varying), and on flat
images of one colour, which a lossless codec should code in next to no bits.

Bits are the models' ideal -log2 P per dimension (the codec's streams follow them within a few
thousandths). The validation photographs are part of the training data's carve-out, so this may inform
a choice; Kodak is not touched.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_highlights.py \\
        "published=hub/zoo-models/idf-photos/model.weights.h5" "clipped crops=runs/idf-photos-clip-b16o/best.weights.h5"

Writes results/idf_highlights.md (`--results NAME`: results/NAME.md).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

SHIFTS = ((0, 0, 0), (16, 16, 0), (32, 32, 8), (48, 48, 16), (128, 128, 0))  # the last: a whole sky, as kodim20's
FLAT = ((255, 255, 200), (128, 128, 128))


def brightened(image, shift):
    """`image` (uint8 RGB) with `shift` added per channel, clipped at 255."""
    return np.minimum(image.astype(np.int32) + np.array(shift), 255).astype(np.uint8)


def clipped_share(photos, shift):
    """The share of `photos`' pixels with a channel at 255 once brightened by `shift`."""
    return np.mean([(brightened(photo, shift) == 255).any(-1).mean() for photo in photos])


def ideal_bits_per_dim(flow, images):
    """The flow's -log2 P per dimension over `images` (each weighted by its size)."""
    return sum(float(flow(image[None])[0]) * image.size for image in images) / sum(image.size for image in images)


def validation_photos():
    """idf-photos' validation photographs (uint8 RGB, cut to multiples of 32, as the harness measures them)."""
    from zoo import data, registry

    recipe = registry.spec("idf-photos").recipe
    files = data.photo_files(recipe.collection, recipe.validation_split)
    return [image for image, _ in data.photo_images(files, recipe.mode, recipe.validation_multiple).as_numpy_iterator()]


def checkpoints(argv, doc, results):
    """(results file name, [(label, idf-photos flow with the weights)]) from the command line's LABEL=WEIGHTS
    arguments and --results (default `results`)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", metavar="LABEL=WEIGHTS",
                        help="a weights file of idf-photos (a run's best.weights.h5 or a published model.weights.h5)")
    parser.add_argument("--results", default=results, help="the results file's name (default %(default)s)")
    args = parser.parse_args(argv)
    import zoo

    flows = []
    for text in args.checkpoints:
        label, sep, weights = text.rpartition("=")
        if not sep or not Path(weights).is_file():
            parser.error(f"expected LABEL=WEIGHTS with an existing weights file, got {text!r}")
        flows.append((label, zoo.load("idf-photos")))
        flows[-1][1].load_weights(weights)
    return args.results, flows


def main(argv=None):
    results, flows = checkpoints(argv, __doc__, "idf_highlights")
    photos = validation_photos()
    columns = [f"validation +{r}/+{g}/+{b} ({100 * clipped_share(photos, (r, g, b)):.1f}% clipped)" for r, g, b in SHIFTS]
    columns += [f"flat {colour}, 256x256" for colour in FLAT]
    rows = []
    for label, flow in flows:
        cells = [ideal_bits_per_dim(flow, [brightened(p, s) for p in photos]) for s in SHIFTS]
        cells += [ideal_bits_per_dim(flow, [np.full((256, 256, 3), colour, np.uint8)]) for colour in FLAT]
        rows.append([label, *(f"{c:.4f}" for c in cells)])
        print(rows[-1], flush=True)
    table = markdown_table(["checkpoint", *columns], rows)
    print(table)
    write_results(results, "idf-photos on clipped highlights: ideal bits/dim", table,
                  notes="+R/+G/+B: added to red, green and blue before clipping at 255; clipped: the share of the "
                        "validation photographs' pixels with a channel at 255.")


if __name__ == "__main__":
    main()
