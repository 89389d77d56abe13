"""What the split priors' scale offsets per block save, side by side: each photo model codes the validation
photographs (whole, each alone, every decode checked) with and without them, and its ideal -log2 P.

The offsets (`zoo.idf.scale_offsets`) are a codec choice, not a model's: the encoder widens or narrows a
split prior's logistics per 32x32 block of a latent and channel and sends the choice (3 bits each). This
script is how they were chosen, on validation; the Kodak figures come from `benchmarks/compression.py --kodak`.

Writes results/idf_scale_offsets.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_scale_offsets.py idf-photos idf-gray
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["idf-photos", "idf-gray"])
    args = parser.parse_args(argv)
    from zoo import registry
    from zoo.idf.codec import Codec

    rows = []
    for name in args.models:
        recipe = registry.spec(name).recipe
        photos = [image.numpy() for image, _ in recipe.load(recipe.validation_split)]
        dims = sum(image.size for image in photos)
        with_offsets = Codec.for_model(name)
        without = Codec(with_offsets.flow, name, scale_offsets=False)
        ideal = sum(float(with_offsets.flow(image[None])[0]) * image.size for image in photos) / dims
        cells = [f"`{name}`", str(len(photos)), f"{ideal:.4f}"]
        coded = {}
        for label, codec in (("without", without), ("with", with_offsets)):
            codec.compress(photos[0][:64, :64])  # trace the graphs before timing
            start, size = time.perf_counter(), 0
            for image in tqdm(photos, desc=f"{name}, {label} offsets", unit="photo"):
                data = codec.compress(image)
                if not np.array_equal(codec.decompress(data), image):
                    raise AssertionError(f"{name} did not decode a validation photograph bit for bit")
                size += len(data)
            coded[label] = 8 * size / dims
            cells += [f"{coded[label]:.4f}", f"{time.perf_counter() - start:.1f}"]
        change = coded["with"] - coded["without"]
        rows.append(cells + [f"{change:+.4f} ({100 * change / coded['without']:+.2f}%)"])
    table = markdown_table(["model", "validation photographs", "ideal -log2 P bits/dim",
                            "coded without offsets, bits/dim", "encode + decode s",
                            "coded with offsets, bits/dim", "encode + decode s", "change"], rows)
    print(table)
    write_results("idf_scale_offsets", "The split priors' scale offsets per block, on the validation photographs "
                  "(whole, each coded alone, every decode checked)", table,
                  notes="The offsets' 3 bits per block and channel are in the coded figures. Times include the "
                        "decode check and depend on what else ran on the machine.")


if __name__ == "__main__":
    main()
