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

import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from idf_highlights import brightened, checkpoints, ideal_bits_per_dim, validation_photos  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

SHIFTS = ((0, 0, 0), (32, 32, 8), (128, 128, 0))
ARITHMETICS = ("float32", "bfloat16, rounded prior heads", "bfloat16, refined prior heads")


def arithmetics(flow):
    """{arithmetic: a compiled function of a batch of images to their bits per dimension}."""
    import tensorflow as tf

    from zoo.idf.codec import bfloat16_copy

    flows = (flow, bfloat16_copy(flow, prior_heads="rounded"), bfloat16_copy(flow))
    return {name: tf.function(f.__call__, reduce_retracing=True) for name, f in zip(ARITHMETICS, flows)}


def main(argv=None):
    results, flows = checkpoints(argv, __doc__, "idf_prior_heads")
    photos = validation_photos()
    sets = {shift: [brightened(photo, shift) for photo in photos] for shift in SHIFTS}
    rows = []
    for label, flow in flows:
        bits = {(name, shift): ideal_bits_per_dim(measure, sets[shift])
                for name, measure in tqdm(arithmetics(flow).items(), desc=label) for shift in SHIFTS}
        for name in ARITHMETICS:
            excess = [bits[name, shift] - bits["float32", shift] for shift in SHIFTS]
            rows.append([label, name, *(f"{bits[name, shift]:.5f}" for shift in SHIFTS),
                         *("" if name == "float32" else f"{e:+.5f}" for e in excess)])
            print(rows[-1], flush=True)
    shifts = [f"+{r}/+{g}/+{b}" for r, g, b in SHIFTS]
    table = markdown_table(["checkpoint", "arithmetic", *(f"validation {s}" for s in shifts),
                            *(f"vs float32, {s}" for s in shifts)], rows)
    write_results(results, f"The bfloat16 codec's prior heads on the {len(photos)} validation photographs, as they "
                                f"are and brightened (ideal bits/dim)", table,
                  notes="+R/+G/+B: added per channel, clipped at 255; +0/+0/+0 is the photographs as they are. Each "
                        "photograph weighted by its size (the harness's validation metric weights each photograph alike).")


if __name__ == "__main__":
    main()
