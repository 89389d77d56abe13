"""How coarse the table bank's grid of the means' fractions may get: exact coded bits and coder calls.

The codec snaps each split-prior logistic's mean fraction to a grid whose step doubles with the scale
from scale level `tables.COARSE_FROM` on (`tables.fraction_step`). This codes the validation photographs
(whole, each alone) with the grid starting at several levels (999: never coarse, 1/32 everywhere) and
counts the exact bits the tables give (`Codec._tile_bits`, headers left out) and the groups of symbols
that share a table, one coder call each.

Writes results/idf_table_grid.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_table_grid.py idf-photos --from 999 48 37
"""

import argparse
import math
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos")
    parser.add_argument("--from", dest="starts", type=int, nargs="+", default=[999, 48, 37],
                        help="scale levels where the grid starts to coarsen (999: never)")
    args = parser.parse_args(argv)
    import zoo
    from zoo import data, registry
    from zoo.idf import Codec, tables
    from zoo.idf import codec as codec_module

    recipe = registry.spec(args.model).recipe
    files = data.photo_files(recipe.collection, recipe.validation_split)
    photos = [image for image, _ in data.photo_images(files, recipe.mode, recipe.validation_multiple).as_numpy_iterator()]
    flow, default, rows = zoo.load(args.model), tables.COARSE_FROM, []
    try:
        for start in args.starts:
            tables.COARSE_FROM = start  # read when the codec traces its graphs
            codec, bits, groups = Codec(flow, args.model), 0.0, 0
            for photo in tqdm(photos, desc=f"from level {start}", leave=False):
                tiles = codec_module._tile(photo[None], codec.tile_shape(*photo.shape[:2]))
                segments = codec._chunk_segments(tiles)
                bits += codec._tile_bits(segments, len(tiles)).sum()
                groups += sum(len(codec_module._grouped(keys)[1]) for _, _, keys, *_ in segments)
            scale = math.exp(tables.LOG_SCALE_MIN + start / tables.SCALE_STEPS)
            rows.append([str(start), "never" if start >= tables.SCALE_LEVELS else f"{scale:.2f}",
                         f"{bits / sum(p.size for p in photos):.5f}", str(groups // len(photos)),
                         str(len(codec._logistic_models))])
            print(rows[-1], flush=True)
    finally:
        tables.COARSE_FROM = default
    table = markdown_table(["coarse from scale level", "scale", "coded bits/dim (tables, no headers)",
                            "coder calls per photograph", "tables built"], rows)
    print(table)
    write_results("idf_table_grid", f"{args.model}: the table bank's fraction grid, {len(photos)} validation "
                  "photographs", table, notes=f"The codec uses level {default}.")


if __name__ == "__main__":
    main()
