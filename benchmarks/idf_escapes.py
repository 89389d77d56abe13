"""What coding escaped values by their distance beyond the window saves (stream format 7), on the validation
photographs: each photo model codes them whole, each alone, every decode checked, and the table counts the
values that fell outside their table's window and what they cost in format 7 and in format 6.

Format 6 followed each escape entry with the value itself in 32 raw bits; format 7 with a side bit, the
distance's bit length under fixed frequencies and its bits below the leading one (`zoo.idf.escapes`). The
rest of a stream is the same symbols in both, so the format 6 figure is the format 7 stream's size with each
escaped value's 32 bits in place of its distance code (rANS rounding aside, under two words a stream). This
script also counts the bit lengths on the RGB model's validation photographs, the frequencies
`escapes.LENGTH_COUNTS` hold (plus one).

Writes results/idf_escapes.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_escapes.py
"""

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from idf_mean_shifts import photo_models, validation_photos  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402


def escape_costs(codec, photos, label):
    """(format 7 coded bits/dim, format 6 bits/dim, escaped values per million dims, their escape entries'
    bits/dim, the distances' bit lengths) of `photos` each coded alone by `codec`."""
    from zoo.idf import escapes, tables

    size, distances, entry_bits = 0, [], 0.0
    for image in tqdm(photos, desc=label, unit="photo"):
        data = codec.compress(image)
        if not np.array_equal(codec.decompress(data), image):
            raise AssertionError(f"{label}: a validation photograph did not decode bit for bit")
        size += 8 * len(data)
        for low, width, keys, models, values, _ in codec._chunk_segments(image[None]):
            symbols, outside = tables.to_symbols(values, low, width)
            if outside.any():
                counts = codec._prior_counts if models is codec._prior_models else codec._logistic_counts
                entry_bits += sum(tables.PRECISION - np.log2(counts[key][w])
                                  for key, w in zip(keys[outside], width[outside]))
                distances.append(escapes.distances(values[outside], low[outside], width[outside])[1])
    distances = np.concatenate([np.zeros(0, np.int64), *distances])
    dims = sum(image.size for image in photos)
    format_6 = size + 32 * len(distances) - escapes.bits(distances).sum()
    lengths = np.frexp(distances.astype(np.float64))[1] - 1
    return size / dims, format_6 / dims, 1e6 * len(distances) / dims, entry_bits / dims, lengths


def main(argv=None):
    models = photo_models(__doc__, argv)
    from zoo.idf.codec import Codec

    rows, lengths = [], None
    for name in models:
        photos = validation_photos(name)
        coded, before, per_million, entries, found = escape_costs(Codec.for_model(name), photos, name)
        lengths = found if lengths is None else lengths
        change = coded - before
        rows.append([f"`{name}`", str(len(photos)), f"{per_million:.0f}", f"{entries:.5f}", f"{before:.5f}",
                     f"{coded:.5f}", f"{change:+.5f} ({100 * change / before:+.2f}%)"])
        print(rows[-1], flush=True)
    table = markdown_table(["model", "validation photographs", "escaped values per million dims",
                            "their escape entries, bits/dim", "format 6 (32 raw bits each), bits/dim",
                            "format 7 (distance code), coded bits/dim", "change"], rows)
    histogram = np.bincount(lengths, minlength=8).tolist()
    notes = (f"Bit lengths of the distances on the first model's photographs (0, 1, 2, ...): {histogram}. "
             "Both figures include the escape entries, which are the same in both formats.")
    print(table, "\n", notes)
    write_results("idf_escapes", "Escaped values coded by their distance beyond the window (format 7) or raw "
                  "(format 6), on the validation photographs (whole, each coded alone, every decode checked)",
                  table, notes=notes)


if __name__ == "__main__":
    main()
