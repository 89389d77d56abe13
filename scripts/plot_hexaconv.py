"""Draw a HexaConv model's first-layer filters as hexagons, and an input image beside its hexagonal resampling.

For p6 / p6m models each row is one learned filter followed by the copies the
group convolution applies (rotated by 60 degrees each step; then mirrored).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python scripts/plot_hexaconv.py hexaconv-p6-aid -o docs/hexaconv-p6-aid.png
    python scripts/plot_hexaconv.py hexaconv-p6-aid --untrained -o /tmp/filters.png   # random filters
"""

import argparse
import math

import numpy as np
from PIL import Image, ImageDraw

import zoo
from zoo import export, registry
from zoo.hexaconv import lattice, square_to_hex


def _hexagon(cx, cy, radius):
    return [(cx + radius * math.cos(math.radians(30 + 60 * i)), cy + radius * math.sin(math.radians(30 + 60 * i))) for i in range(6)]


def draw_hex_map(values, spacing):
    """An RGB picture of a (S, S, 3) hexagon-shaped map in [0, 1], one hexagon per lattice cell."""
    size = values.shape[0]
    radius = size // 2
    width = int(spacing * (2 * radius + 2)) + 2
    height = int(spacing * math.sqrt(3) / 2 * (2 * radius + 2)) + 2
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    q, r = lattice.axial(size, size)
    inside = lattice.hex_distance(q, r) <= radius
    for row, col in zip(*np.nonzero(inside)):
        cx = width / 2 + spacing * (q[row, col] + r[row, col] / 2)
        cy = height / 2 + spacing * math.sqrt(3) / 2 * r[row, col]
        colour = tuple(int(255 * np.clip(v, 0, 1)) for v in values[row, col])
        draw.polygon(_hexagon(cx, cy, spacing / math.sqrt(3) * 1.02), fill=colour)
    return picture


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a hexaconv-* model with a hexagonal stem (hex, p6 or p6m)")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--untrained", action="store_true", help="draw a freshly initialised model")
    parser.add_argument("--filters", type=int, default=4, help="how many first-layer filters to draw")
    args = parser.parse_args(argv)

    spec = registry.spec(args.name)
    model = zoo.load(args.name, pretrained=not args.untrained)
    stem = model.get_layer("hex_classifier").get_layer("stem")
    bank = np.asarray(stem.expanded_kernel())  # (k, k, 3, order * filters): each filter in every orientation
    order, filters = stem.order, stem.filters
    grid = []  # one row per filter (p6 / p6m: its rotated and mirrored copies side by side)
    shown = range(min(args.filters, filters)) if order > 1 else [range(min(args.filters, filters))]
    for row in shown:
        columns = [h * filters + row for h in range(order)] if order > 1 else list(row)
        scale = np.abs(bank[..., columns]).max() + 1e-12
        grid.append([draw_hex_map(np.where(stem._taps[..., None] > 0, 0.5 + 0.5 * bank[..., c] / scale, 1.0), 28) for c in columns])

    images, _ = export.sample_inputs(spec, 1)
    radius = model.get_layer("to_hex").radius
    hexes = np.asarray(square_to_hex(images.astype("float32"), radius))[0] / 255.0
    spacing = 4.0
    resampled = draw_hex_map(hexes, spacing)
    original = Image.fromarray(images[0]).resize((resampled.height, resampled.height), Image.NEAREST)

    gap = 10
    tile_w, tile_h = grid[0][0].size
    grid_w = max(len(r) for r in grid) * (tile_w + gap)
    grid_h = len(grid) * (tile_h + gap)
    canvas = Image.new("RGB", (max(grid_w, original.width + resampled.width + gap), grid_h + original.height + gap), "white")
    for i, row in enumerate(grid):
        for j, tile in enumerate(row):
            canvas.paste(tile, (j * (tile_w + gap), i * (tile_h + gap)))
    canvas.paste(original, (0, grid_h + gap))
    canvas.paste(resampled, (original.width + gap, grid_h + gap))
    canvas.save(args.output)
    what = f"{len(grid)} first-layer filters, each in its {order} orientations (rows)" if order > 1 else f"{len(grid[0])} first-layer filters"
    print(f"wrote {args.output}: {what} of {args.name}; an input image and its hexagonal resampling")


if __name__ == "__main__":
    main()
