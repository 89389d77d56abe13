"""Two or more checkpoints of one IDF model side by side on the validation photographs (cut to the
recipe's multiple, as the harness measures them): each codes every photograph whole and alone (every
decode checked); the table has the coded and the ideal bits per
dimension and the encode and decode speed. How a change to a published photo model (a layer added, a
retrained flow) is judged on the data it may be judged on; Kodak is `benchmarks/compression.py --kodak`.

A checkpoint is a folder with config.json and model.weights.h5 (`hub/zoo-models/NAME`, or one taken out
of git: `git archive COMMIT hub/zoo-models/idf-photos | tar -x -C runs/before`).

Writes results/RESULTS.md (default idf_checkpoints).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_checkpoints.py idf-photos \\
        "no context=runs/before/hub/zoo-models/idf-photos" "context=hub/zoo-models/idf-photos"
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def measure(codec, photos):
    """(coded bits/dim, ideal bits/dim, encode Mpx/s, decode Mpx/s) over `photos`, after one untimed warm-up."""
    from compression import _each, _first_call

    _first_call(codec, photos[0])  # traces the graphs
    coded, encode_s, decode_s = _each("photographs", codec.compress, codec.decompress, photos)
    ideal = sum(float(codec.flow(photo[None])[0]) * photo.size for photo in photos) / sum(p.size for p in photos)
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    return coded, ideal, megapixels / encode_s, megapixels / decode_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the registered model the checkpoints are of (its recipe names the photographs)")
    parser.add_argument("checkpoints", nargs="+", metavar="LABEL=FOLDER")
    parser.add_argument("--results", default="idf_checkpoints")
    args = parser.parse_args(argv)
    from zoo import checkpoint, data, registry
    from zoo.idf import Codec

    recipe = registry.spec(args.name).recipe
    files = data.photo_files(recipe.collection, recipe.validation_split)
    photos = [image for image, _ in data.photo_images(files, recipe.mode, recipe.validation_multiple).as_numpy_iterator()]
    rows = []
    for text in args.checkpoints:
        label, sep, folder = text.partition("=")
        if not sep:
            parser.error(f"expected LABEL=FOLDER, got {text!r}")
        folder = Path(folder)
        flow = checkpoint.load(folder / checkpoint.CONFIG, folder / checkpoint.WEIGHTS)
        coded, ideal, encode, decode = measure(Codec(flow, args.name), photos)
        rows.append([label, f"`{folder}`", f"{ideal:.4f}", f"{coded:.4f}", f"{encode:.2f}", f"{decode:.2f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["checkpoint", "folder", "ideal -log2 P bits/dim", "coded bits/dim", "encode Mpx/s",
                            "decode Mpx/s"], rows)
    print(table)
    write_results(args.results, f"{args.name}: checkpoints side by side on the {len(photos)} validation photographs, "
                  "each coded whole and alone", table,
                  notes="bits/dim over all the photographs' dimensions (stream bytes x 8); every decode checked.")


if __name__ == "__main__":
    main()
