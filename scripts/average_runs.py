"""Average the best weights of finished sibling runs (continuations of the same weights with other seeds) into
one weights file that `zoo train --from-weights` can finish, measure and publish (`training.average_runs`).

Usage:
    python scripts/average_runs.py idf-photos runs/idf-photos-ctx-b16r runs/idf-photos-ctx-b16s \\
        --out runs/idf-photos-b16r+s
    ZOO_DATA_DIR=../shared/data/tfds zoo train idf-photos --from-weights runs/idf-photos-b16r+s/average.weights.h5 \\
        --epochs 0 --workdir runs/idf-photos-b16r+s-finish
"""

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the registered model the runs trained")
    parser.add_argument("runs", nargs="+", help="the runs' workdirs")
    parser.add_argument("--out", required=True, help="folder for average.weights.h5, its log and run record")
    args = parser.parse_args(argv)
    from zoo import registry, training

    command = "python scripts/average_runs.py " + shlex.join([args.model, *args.runs, "--out", args.out])
    path = training.average_runs(registry.spec(args.model), args.runs, args.out, command)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
