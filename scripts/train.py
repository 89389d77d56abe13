"""Train a registered model by its recipe; the same as `zoo train`.

Usage:
    python scripts/train.py cnn-small-mnist [--epochs N] [--strategy mirrored] ...
"""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
