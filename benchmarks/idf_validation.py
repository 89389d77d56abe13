"""Photo flows on their validation photographs measured two ways, side by side: as 128x128 crops (what the
validation split was until this run's finding) and whole, like the codec and the Kodak test split see them.

A model is a registered name, optionally with builder overrides and the weights of a run:
`idf-photos` (the published checkpoint) or `idf-photos:levels=5@runs/idf-photos-l5/best.weights.h5`.
Bits per dimension are the mean over images (whole photographs, cut at the bottom and right to multiples
of 32) or over crops. The test split is not touched.

Writes results/idf_validation.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_validation.py idf-photos \\
        idf-photos:levels=5@runs/idf-photos-l5/best.weights.h5
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402
from variant_probe import parse_variant  # noqa: E402

CROP = 128


def load_model(text):
    """The model of `NAME[:key=value,...][@weights.h5]`: the published checkpoint, or the builder with
    overrides and the given weights."""
    import zoo
    from zoo import registry

    variant, _, weights = text.partition("@")
    name, overrides = parse_variant(variant)
    if not weights:
        if overrides:
            raise ValueError(f"{text!r}: overrides need the weights of a run (NAME:key=value@path.weights.h5)")
        return zoo.load(name)
    model = registry.spec(name).builder(**overrides)
    model.load_weights(weights)
    return model


def crops(image, size=CROP):
    """Every non-overlapping `size` x `size` crop of `image` from the top left (the edges' remainder left out)."""
    return [image[y : y + size, x : x + size] for y in range(0, image.shape[0] - size + 1, size)
            for x in range(0, image.shape[1] - size + 1, size)]


def measure(model, images):
    """(mean bits/dim over the whole images, mean bits/dim over their 128x128 crops)."""
    whole = [float(model(image[None])[0]) for image in tqdm(images, desc="whole", leave=False)]
    cut = np.stack([c for image in images for c in crops(image)])
    cropped = np.concatenate([np.asarray(model(cut[i : i + 16])) for i in range(0, len(cut), 16)])
    return float(np.mean(whole)), float(np.mean(cropped))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="NAME or NAME:key=value,...@weights.h5")
    args = parser.parse_args(argv)
    from zoo import registry

    rows = []
    for text in args.models:
        recipe = registry.spec(parse_variant(text.partition("@")[0])[0]).recipe
        images = [image.numpy() for image, _ in recipe.load(recipe.validation_split)]
        whole, cropped = measure(load_model(text), images)
        rows.append([f"`{text}`", f"{cropped:.4f}", f"{whole:.4f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["model", f"validation bits/dim, {CROP}x{CROP} crops", "validation bits/dim, whole photographs"], rows)
    write_results("idf_validation", "Photo flows on their validation photographs: crops against whole", table)


if __name__ == "__main__":
    main()
