"""Where the IDF codec's time goes on the Kodak photographs: the network, the rANS coder, the rest.

Codes every Kodak photograph alone with each model (a registered name, or NAME=WEIGHTS for a run's
weights), once to warm up (tracing, entropy tables) and once under cProfile, and splits the profiled
encode and decode time into the TensorFlow graphs (the flow's convolutions), the rANS coder
(`constriction`) and everything else (NumPy: table keys, grouping, symbols). Also counts the
entropy tables each model built.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/codec_profile.py idf-photos \\
        idf-photos=runs/idf-photos-low/best.weights.h5
"""

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo import data  # noqa: E402
from zoo.idf import Codec  # noqa: E402

NETWORK = ("TFE_Py_Execute", "TFE_Py_FastPathExecute")
CODER = ("encode_reverse", "decode")  # constriction's AnsCoder methods


def _codec(text):
    name, _, weights = text.partition("=")
    if not weights:
        return f"`{name}`", Codec.for_model(name)
    return f"`{name}` with `{weights}`", Codec.for_weights(name, weights)


def _shares(profile):
    """(total seconds, network share, coder share) of a cProfile run."""
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())  # v = (calls, primitive calls, own time, cumulative time, callers)
    network = sum(v[2] for (_, _, func), v in stats.items() if any(n in func for n in NETWORK))
    coder = sum(v[2] for (_, _, func), v in stats.items() if any(f"'{m}' of 'builtins.AnsCoder'" in func for m in CODER))
    return total, network / total, coder / total


def profile(codec, photos):
    """Rows of (step, seconds, Mpx/s, network share, coder share) for encode and decode, after a warm-up."""
    streams = [codec.compress(p) for p in photos]
    for s in streams:
        codec.decompress(s)
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    rows = []
    for step, work in (("encode", lambda: [codec.compress(p) for p in photos]),
                       ("decode", lambda: [codec.decompress(s) for s in streams])):
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start  # unprofiled
        profiler = cProfile.Profile()
        profiler.runcall(work)
        _, network, coder = _shares(profiler)
        rows.append((step, seconds, megapixels / seconds, network, coder))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registered IDF model names, or NAME=WEIGHTS")
    parser.add_argument("--results", default="codec_profile", help="results file name")
    args = parser.parse_args(argv)
    photos = [image for _, image in data.photos("kodak24", mode="RGB")]
    rows = []
    for text in args.models:
        label, codec = _codec(text)
        for step, seconds, mpx, network, coder in profile(codec, photos):
            rows.append([label, step, f"{seconds:.2f}", f"{mpx:.2f}", f"{100 * network:.0f}%", f"{100 * coder:.0f}%",
                         f"{100 * (1 - network - coder):.0f}%", str(len(codec._logistic_models))])
            print(rows[-1], flush=True)
    table = markdown_table(["model", "step", f"seconds ({len(photos)} photos, warm)", "Mpx/s", "network (TensorFlow graphs)",
                            "rANS coder", "other (NumPy)", "entropy tables built"], rows)
    print(table)
    write_results(args.results, f"Where the codec's time goes on the {len(photos)} Kodak photographs", table,
                  notes="Shares of the cProfile'd time; seconds and Mpx/s from an unprofiled pass after a warm-up.")


if __name__ == "__main__":
    main()
