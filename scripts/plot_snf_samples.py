"""Draw samples of the published Self Normalizing Flows: one row of samples per model and inverse (the
learned R, and the exact W^-1), from the same latents, so the two rows of an SNF model differ only by
the inverse used.

Usage:
    python scripts/plot_snf_samples.py -o docs/snf-samples.png
    python scripts/plot_snf_samples.py --untrained -o /tmp/samples.png     # untrained flows, for a test
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

import zoo

NAMES = ("snf-fc-mnist", "exact-fc-mnist", "snf-conv-mnist", "exact-conv-mnist")


def rows(names, n, untrained=False, seed=0, temperature=1.0):
    """[(label, (n, 28, 28) uint8 samples)] for every model and inverse."""
    out = []
    for name in names:
        if not untrained and not zoo.info(name)["pretrained"]:
            print(f"{name}: no checkpoint yet, left out")
            continue
        flow = zoo.load(name, pretrained=not untrained)
        inverses = ("learned", "exact") if flow.gradient == "selfnorm" else ("exact",)
        for inverse in inverses:
            samples = flow.sample(n, inverse=inverse, seed=seed, temperature=temperature)
            out.append((f"{name}, {'R' if inverse == 'learned' else 'exact W^-1'}", samples[..., 0]))
    return out


def draw(rows, scale=2, label_width=160):
    n = rows[0][1].shape[0]
    tile = 28 * scale
    picture = Image.new("L", (label_width + n * (tile + 2), len(rows) * (tile + 4)), 255)
    pen = ImageDraw.Draw(picture)
    for r, (label, samples) in enumerate(rows):
        y = r * (tile + 4)
        pen.text((4, y + tile // 2 - 6), label, fill=0)
        for i, image in enumerate(samples):
            picture.paste(Image.fromarray(image).resize((tile, tile), Image.NEAREST), (label_width + i * (tile + 2), y))
    return picture


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-n", type=int, default=10, help="samples per row")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--untrained", action="store_true")
    args = parser.parse_args(argv)
    picture = draw(rows(NAMES, args.n, args.untrained, temperature=args.temperature))
    picture.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
