"""The IDF codec in float32 and in bfloat16 (`Codec(precision=...)`), side by side on the validation photographs
(every tenth of `photos/train`, never trained on): bits/dim of the coded streams and encode / decode speed,
so the default precision is chosen on validation, not on Kodak.

Each photograph is coded alone (all encoded, then all decoded: `compression._each`); every decode is checked
bit-exact. Both codecs code every photograph once untimed first (tracing, tables), then the timed passes
alternate between them, so a machine's drift
reaches both alike. `--repeats` timed passes; the table gives their median.

Beside the coded bits, each row gives the harness's validation metric for that precision: `photo_bits`'
`bpd` (float32) or `bpd_bfloat16` (the bfloat16 codec's arithmetic), the ideal bits per image averaged over
the photographs cut to multiples of 32, which the photo recipes select on; it should rank the checkpoints as
the coded bits do.

`--rounded-priors` adds the arithmetic of bfloat16 streams made before the priors' mean heads were refined
(`codec.ROUNDED_PRIORS`), to show what the refinement costs in time and saves in bits.

Several models side by side, each in both precisions (a run's weights as LABEL=NAME=WEIGHTS), say whether a
checkpoint trained in mixed precision loses less to the bfloat16 codec:

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_codec_precision.py idf-photos
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_codec_precision.py idf-photos \
        "mixed precision=idf-photos=runs/idf-photos-ctx-b16z/best.weights.h5" --repeats 1 --results NAME

Writes results/idf_codec_precision.md.
"""

import argparse
import statistics
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from compression import _each  # noqa: E402
from idf_bfloat16_nets import mean_bits  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

from zoo import data, registry  # noqa: E402
from zoo.idf import Codec  # noqa: E402
from zoo.idf.codec import ROUNDED_PRIORS, bfloat16_copy, bfloat16_units  # noqa: E402
from zoo.idf.recipes import photo_bits  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="a registered fully convolutional IDF model, or LABEL=NAME=WEIGHTS for a run's weights")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per precision")
    parser.add_argument("--results", default="idf_codec_precision", help="results file name")
    parser.add_argument("--rounded-priors", action="store_true",
                        help=f"also the arithmetic of older bfloat16 streams ({ROUNDED_PRIORS})")
    args = parser.parse_args(argv)
    precisions = ("float32", *((ROUNDED_PRIORS,) if args.rounded_priors else ()), "bfloat16")
    files = data.photo_files("train", "validation")
    photos = [image for image, _ in data.photo_images(files).as_numpy_iterator()]
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    models = [_model(text) for text in args.models]
    codecs = {(label, p): codec(p) for label, _, codec in models for p in precisions}
    metrics = {}
    for label, name, _ in tqdm(models, desc="validation metric"):
        recipe = registry.spec(name).recipe
        measured = photo_bits(codecs[label, "float32"].flow, recipe, recipe.validation_split)
        metrics[label, "float32"], metrics[label, "bfloat16"] = measured["bpd"], measured["bpd_bfloat16"]
        if args.rounded_priors:
            validation = [image for image, _ in recipe.load(recipe.validation_split).as_numpy_iterator()]
            metrics[label, ROUNDED_PRIORS] = mean_bits(bfloat16_copy(codecs[label, "float32"].flow, "rounded"), validation)
    for (label, precision), codec in tqdm(codecs.items(), desc="untimed first pass"):
        _each(f"{label}, {precision}", codec.compress, codec.decompress, photos)
    passes = {key: [] for key in codecs}
    for _ in tqdm(range(args.repeats), desc="timed passes"):
        for (label, precision), codec in codecs.items():  # (bits/dim, encode s, decode s), every decode checked
            passes[label, precision].append(_each(f"{label}, {precision}", codec.compress, codec.decompress, photos))
    rows = []
    for (label, precision), runs in passes.items():
        bits = runs[0][0]
        encode, decode = (statistics.median(megapixels / r[i] for r in runs) for i in (1, 2))
        rows.append([f"{label}, {precision}", f"{bits:.5f}", f"{bits - passes[label, 'float32'][0][0]:+.5f}",
                     f"{metrics[label, precision]:.6f}", f"{encode:.2f}", f"{decode:.2f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["codec", "bits/dim", "vs float32", "validation metric", "encode Mpx/s", "decode Mpx/s"],
                           rows)
    write_results(args.results, f"The codec's precision on the {len(photos)} validation photographs ({megapixels:.2f} Mpx)",
                  table, notes=f"Median of {args.repeats} timed passes each, after an untimed one; each photograph coded "
                               f"alone, every decode checked bit-exact. CPU with bfloat16 matrix units: "
                               f"{'yes' if bfloat16_units() else 'no'}. Speeds on a busy machine are lower for both alike.")


def _model(text):
    """(label, model name, codec of a precision) of a registered name, or of LABEL=NAME=WEIGHTS (a run's
    weights)."""
    parts = text.split("=")
    if len(parts) == 1:
        return f"`{text}`", text, lambda precision: Codec.for_model(text, precision)
    if len(parts) != 3:
        raise SystemExit(f"{text!r}: give a registered name or LABEL=NAME=WEIGHTS")
    label, name, weights = parts
    return label, name, lambda precision: Codec.for_weights(name, weights, precision)


if __name__ == "__main__":
    main()
