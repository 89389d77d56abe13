"""Where an IDF model wins and loses on Kodak: bits/dim per photograph for WebP lossless, JPEG 2000 and
JPEG XL beside `idf-photos` in its default precision (and in float32 beside a bfloat16 default, and any
`--candidate` weights, and with `--without-shifts` the default codec without its mean shifts per block, as
streams were before them but for format 7's escaped values), with the share of each photograph's pixels
that have a channel at 255 (blown-out highlights).

Every stream is decoded and checked bit-exact. The Kodak photographs are the test split: this reports a
published checkpoint, it chooses nothing.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/kodak_per_photo.py
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/kodak_per_photo.py \\
        --candidate "before (94a5927)=runs/before/hub/zoo-models/idf-photos/model.weights.h5"
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/kodak_per_photo.py --without-shifts

Writes results/kodak_per_photo.md.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from compression import CLASSIC, _each, precisions  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

from zoo import data  # noqa: E402
from zoo.idf import Codec  # noqa: E402

CLASSICAL = ("WebP lossless (method 6)", "JPEG 2000 (reversible)", "JPEG XL lossless (effort 9)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidate", action="append", default=[], metavar="LABEL=WEIGHTS",
                        help="also code with idf-photos loaded with WEIGHTS, in a column named LABEL (repeatable)")
    parser.add_argument("--without-shifts", action="store_true",
                        help="also code with the default codec without mean shifts (zoo.idf.mean_shifts)")
    args = parser.parse_args(argv)
    codecs = {f"`idf-photos`, {codec.precision}": codec for codec in precisions("idf-photos")}
    if args.without_shifts:
        default = Codec.for_model("idf-photos")
        codecs[f"`idf-photos`, {default.precision}, without mean shifts"] = Codec(
            default.flow, "idf-photos", precision=default.precision, mean_shifts=False)
    for text in args.candidate:
        label, _, weights = text.rpartition("=")
        if not label or not Path(weights).is_file():
            parser.error(f"--candidate wants LABEL=WEIGHTS with an existing weights file, got {text!r}")
        codecs[label] = Codec.for_weights("idf-photos", weights)

    photos = data.photos("kodak24")
    columns = {name: [] for name in (*CLASSICAL, *codecs)}
    clipped = []
    for _, image in tqdm(photos, desc="Kodak", unit="photo"):
        clipped.append((image == 255).any(-1).mean())
        for name in CLASSICAL:
            columns[name].append(_each(name, *CLASSIC[name], [image])[0])  # bits/dim, decode checked
        for name, codec in codecs.items():
            columns[name].append(_each(name, codec.compress, codec.decompress, [image])[0])

    first = next(iter(codecs))
    header = ["photograph", "pixels with a channel at 255", *columns, f"{first} - WebP"]
    rows = [[name, f"{100 * share:.1f}%", *(f"{columns[c][i]:.3f}" for c in columns),
             f"{columns[first][i] - columns[CLASSICAL[0]][i]:+.3f}"]
            for i, ((name, _), share) in enumerate(zip(photos, clipped))]
    rows.append(["mean", f"{100 * np.mean(clipped):.1f}%", *(f"{np.mean(v):.3f}" for v in columns.values()),
                 f"{np.mean(columns[first]) - np.mean(columns[CLASSICAL[0]]):+.3f}"])
    table = markdown_table(header, rows)
    print(table)
    write_results("kodak_per_photo", "Kodak, bits/dim per photograph, each coded alone", table,
                  notes="bits/dim = file bytes x 8 / (H x W x 3); every decode checked bit-exact. All photographs "
                        "are 768x512 or 512x768, so the mean of the rows is the set's bits/dim.")


if __name__ == "__main__":
    main()
