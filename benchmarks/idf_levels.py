"""Where an IDF model's bits go on whole photographs: the ideal code length of each latent, level by level
(each split prior's factored-out half, and the last prior's latent), averaged over the Kodak images.

Each row is one latent: its share of the image's dimensions, its bits per dimension of its own, and
its share of the image's bits per dimension (the last column adds up to the model's Kodak figure).

Writes results/idf_levels_<model>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_levels.py idf-photos
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def level_bits(model, image):
    """[(latent dimensions, bits)] of one uint8 image (1, H, W, C), the split priors' then the last prior's."""
    from keras import ops

    side = 2**model.levels
    if image.shape[1] % side or image.shape[2] % side:
        raise ValueError(f"image sides {image.shape[1]}x{image.shape[2]} must be multiples of {side} (Kodak's are)")
    return [(int(np.prod(latent.shape)), -float(ops.sum(logp)) / math.log(2.0))
            for latent, logp in model.latent_log_likelihoods(image)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--collection", default="kodak24")
    args = parser.parse_args(argv)
    import zoo
    from zoo import data

    model = zoo.load(args.model)
    mode = "L" if model.image_shape[-1] == 1 else "RGB"
    per_image = []
    for image, _ in tqdm(data.photo_images(data.photo_files(args.collection), mode).batch(1), desc=args.collection):
        image = image.numpy()
        levels = level_bits(model, image)
        per_image.append([(d / image.size, b / d, b / image.size) for d, b in levels])
    mean = np.mean(per_image, axis=0)
    names = [f"split prior {i + 1} (factored out at level {i + 1})" for i in range(model.levels - 1)]
    names.append("last prior (with context)" if model.prior.context else "last prior (no context)")
    rows = [[name, f"{share:.4f}", f"{own:.3f}", f"{part:.3f}"] for name, (share, own, part) in zip(names, mean)]
    rows.append(["total", f"{mean[:, 0].sum():.4f}", "", f"{mean[:, 2].sum():.3f}"])
    table = markdown_table(["latent", "share of dimensions", "bits per own dimension", "bits per image dimension"],
                           rows)
    print(table)
    write_results(f"idf_levels_{args.model}", f"{args.model}: ideal bits of each latent on {args.collection}, "
                                               f"each image whole, mean over {len(per_image)} images", table)


if __name__ == "__main__":
    main()
