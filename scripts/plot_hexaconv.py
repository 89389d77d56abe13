"""Draw a HexaConv model's first-layer filters as hexagons, and an input image beside its hexagonal resampling.

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
    parser.add_argument("--filters", type=int, default=8, help="how many first-layer filters to draw")
    args = parser.parse_args(argv)

    spec = registry.spec(args.name)
    model = zoo.load(args.name, pretrained=not args.untrained)
    stem = model.get_layer("hex_classifier").get_layer("stem")
    kernel = np.asarray(stem.kernel)[:, :, 0] * stem._taps[:, :, None, None]  # (k, k, 3, filters)
    tiles = []
    for f in range(min(args.filters, kernel.shape[-1])):
        taps = kernel[..., f]
        scaled = 0.5 + 0.5 * taps / (np.abs(taps).max() + 1e-12)
        tiles.append(draw_hex_map(np.where(stem._taps[..., None] > 0, scaled, 1.0), spacing=28))

    images, _ = export.sample_inputs(spec, 1)
    radius = model.get_layer("to_hex").radius
    hexes = np.asarray(square_to_hex(images.astype("float32"), radius))[0] / 255.0
    spacing = 4.0
    resampled = draw_hex_map(hexes, spacing)
    original = Image.fromarray(images[0]).resize((resampled.height, resampled.height), Image.NEAREST)

    gap = 10
    row_width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    width = max(row_width, original.width + resampled.width + gap)
    canvas = Image.new("RGB", (width, tiles[0].height + original.height + 3 * gap), "white")
    x = 0
    for tile in tiles:
        canvas.paste(tile, (x, 0))
        x += tile.width + gap
    canvas.paste(original, (0, tiles[0].height + 2 * gap))
    canvas.paste(resampled, (original.width + gap, tiles[0].height + 2 * gap))
    canvas.save(args.output)
    print(f"wrote {args.output}: {len(tiles)} first-layer filters of {args.name}; an input image and its hexagonal resampling")


if __name__ == "__main__":
    main()
