"""What the split priors' mean shifts per block save, side by side: each photo model codes the validation
photographs (whole, each alone, every decode checked) without and with them, as they are and, for the RGB
model, brightened to a whole overexposed sky (red and green +128, clipped at 255, as kodim20's).

The shifts (`zoo.idf.mean_shifts`) are a codec choice, not a model's: the encoder moves a split prior's means
per 32x32 block of a latent and channel, and, in the same streams, widens or narrows its later coding
stages' scales per block as `scale_offsets` does the first stage's; both choices go in the stream under
fixed frequencies, as are the first stage's offsets in these streams (3 bits each before). This script is how
they were chosen, on validation: it also counts how often each shift and offset is chosen on the RGB model's
validation photographs as they are, the frequencies `mean_shifts.COUNTS`, `scale_offsets.FIRST_COUNTS` and
`scale_offsets.LATER_COUNTS` hold (plus one). The Kodak figures come from
`benchmarks/compression.py --kodak`.

Writes results/idf_mean_shifts.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_mean_shifts.py
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from idf_highlights import brightened  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

SKY = (128, 128, 0)


def coded_bits(codec, photos, label):
    """(bits per dimension of `photos` each coded alone by `codec`, seconds to encode and decode them)."""
    codec.compress(photos[0][:64, :64])  # trace the graphs before timing
    start, size = time.perf_counter(), 0
    for image in tqdm(photos, desc=label, unit="photo"):
        data = codec.compress(image)
        if not np.array_equal(codec.decompress(data), image):
            raise AssertionError(f"{label}: a validation photograph did not decode bit for bit")
        size += len(data)
    return 8 * size / sum(image.size for image in photos), time.perf_counter() - start


def photo_models(doc, argv):
    """The photo models a benchmark named on its command line `argv` (both published ones by default)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["idf-photos", "idf-gray"])
    return parser.parse_args(argv).models


def validation_photos(name):
    """The validation photographs of registered photo model `name`'s recipe, whole (uint8 arrays)."""
    from zoo import registry

    recipe = registry.spec(name).recipe
    return [image.numpy() for image, _ in recipe.load(recipe.validation_split)]


def comparison_row(name, label, count, before, after, digits=4):
    """A table row of model `name` on `count` photographs (`label`): (bits/dim, seconds) `before` and `after`,
    and the change, with `digits` decimals."""
    (bits_before, s_before), (bits_after, s_after) = before, after
    change = bits_after - bits_before
    return [f"`{name}`", label, str(count), f"{bits_before:.{digits}f}", f"{s_before:.1f}", f"{bits_after:.{digits}f}",
            f"{s_after:.1f}", f"{change:+.{digits}f} ({100 * change / bits_before:+.2f}%)"]


def chosen(codec, photos, model, size):
    """How often the encoder of `codec` picks each of the `size` symbols it sends under `model` (a side
    information's) on `photos`."""
    counts = np.zeros(size, np.int64)
    for image in photos:
        for *_, side in codec._chunk_segments(image[None]):
            for symbols, symbol_model, _ in side:
                if symbol_model is model:
                    counts += np.bincount(symbols.reshape(-1), minlength=size)
    return counts


def main(argv=None):
    models = photo_models(__doc__, argv)
    from zoo.idf import mean_shifts, scale_offsets
    from zoo.idf.codec import Codec

    rows, counts = [], None
    for name in models:
        photos = validation_photos(name)
        with_shifts = Codec.for_model(name)
        without = Codec(with_shifts.flow, name, mean_shifts=False)
        sets = [("as they are", photos)]
        if photos[0].shape[-1] == 3:
            sets.append((f"brightened +{SKY[0]}/+{SKY[1]}/+{SKY[2]}", [brightened(p, SKY) for p in photos]))
            counts = (chosen(with_shifts, photos, mean_shifts.MODEL, mean_shifts.SHIFTS),
                      chosen(with_shifts, photos, scale_offsets.FIRST_MODEL, scale_offsets.OFFSETS),
                      chosen(with_shifts, photos, scale_offsets.LATER_MODEL, scale_offsets.OFFSETS))
        for label, images in sets:
            before = coded_bits(without, images, f"{name}, {label}, without shifts")
            after = coded_bits(with_shifts, images, f"{name}, {label}, with shifts")
            rows.append(comparison_row(name, label, len(images), before, after))
            print(rows[-1], flush=True)
    table = markdown_table(["model", "validation photographs", "count", "coded without shifts, bits/dim",
                            "encode + decode s", "coded with shifts, bits/dim", "encode + decode s", "change"], rows)
    notes = ("With shifts: the mean shifts and the later stages' scale offsets, their side information in the coded "
             "figures; both columns have the first stage's scale offsets. Times include the decode check and depend "
             "on what else ran on the machine.")
    if counts is not None:
        shifts = ", ".join(f"{(k - mean_shifts.SHIFTS // 2) * mean_shifts.STEP:+g}: {c}"
                           for k, c in enumerate(counts[0]))
        first, later = (", ".join(f"{(k - scale_offsets.OFFSETS // 2) * scale_offsets.STEP:+g}: {c}"
                                  for k, c in enumerate(stage_counts)) for stage_counts in counts[1:])
        notes += (f" Chosen on the RGB model's validation photographs as they are (blocks): mean shifts (lattice "
                  f"units) {shifts}; first stage's log-scale offsets {first}; later stages' {later}.")
    print(table, "\n", notes)
    write_results("idf_mean_shifts", "The split priors' mean shifts and later-stage scale offsets per block, on the "
                  "validation photographs (whole, "
                  "each coded alone, every decode checked)", table, notes=notes)


if __name__ == "__main__":
    main()
