"""What checking sharp blocks' scale offsets by their bits saves, side by side: each photo model codes the
validation photographs (whole, each alone, every decode checked) with the offsets as the rule picks them and
with the rule's picks checked (`zoo.idf.scale_offsets`), as they are and, for the RGB model, gray (luma) as
three equal channels, the input on which the rule went most wrong.

The rule reads a block's mean |y - mean| / scale as a logistic's spread. Where the logistics are sharp the
rounding to integers dominates that distance, and the rule widens where widening costs bits; the check
compares such a block's offset with none by their ideal bits plus their side information. Only streams with
mean shifts are checked (those without keep their format's choices, byte for byte), and the decoder does
not change: the check is the encoder's choice.

Writes results/idf_offset_check.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_offset_check.py
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from idf_mean_shifts import coded_bits, comparison_row, validation_photos  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    from zoo.idf import scale_offsets
    from zoo.idf.codec import Codec

    gray = validation_photos("idf-gray")
    sets = [("idf-photos", "as they are", validation_photos("idf-photos")),
            ("idf-photos", "gray, as three equal channels", [np.repeat(image, 3, axis=-1) for image in gray]),
            ("idf-gray", "gray (luma)", gray)]
    rows, sharp = [], scale_offsets.SHARP
    for name, label, images in sets:
        codec = Codec.for_model(name)
        try:
            scale_offsets.SHARP = -math.inf  # no block is sharp enough: the rule's picks as they are
            before = coded_bits(codec, images, f"{name}, {label}, the rule")
        finally:
            scale_offsets.SHARP = sharp
        after = coded_bits(codec, images, f"{name}, {label}, checked")
        rows.append(comparison_row(name, label, len(images), before, after, digits=5))
        print(rows[-1], flush=True)
    table = markdown_table(["model", "validation photographs", "count", "the rule's offsets, bits/dim",
                            "encode + decode s", "checked, bits/dim", "encode + decode s", "change"], rows)
    notes = (f"Checked: a block whose mean log-scale is below {sharp:g} keeps its offset only where it saves bits. "
             "Both columns code with the mean shifts and every scale offset. Times include the decode check and "
             "depend on what else ran on the machine.")
    print(table, "\n", notes)
    write_results("idf_offset_check", "Sharp blocks' scale offsets checked by their bits, on the validation "
                  "photographs (whole, each coded alone, every decode checked)", table, notes=notes)


if __name__ == "__main__":
    main()
