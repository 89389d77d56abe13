"""Where the IDF codec's time goes on the Kodak photographs: the network, the rANS coder, the rest.

Codes every Kodak photograph alone with each model (a registered name, or NAME=WEIGHTS for a run's
weights), once to warm up (tracing, entropy tables) and once under cProfile, and splits the profiled
encode and decode time into the TensorFlow graphs (the flow's convolutions), the rANS coder
(`constriction`) and everything else (NumPy: table keys, grouping, symbols). Also counts the
entropy tables each model built, and times each of the codec's compiled graphs (encode and decode of every
photograph together, each call waited for), the five slowest per model in a second table.

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


def graph_seconds(codec, photos):
    """{graph name: seconds} that encoding and decoding every photograph (warm) spends in each of `codec`'s
    compiled graphs: the flow's forward pass, each level's inverse, split prior, table keys and context net."""
    import tensorflow as tf

    spent = {}

    def timed(graph, name):
        def call(*args):
            start = time.perf_counter()
            out = tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, graph(*args))
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
            return out
        return call

    saved = {k: getattr(codec, k) for k in ("_flow", "_last_context", "_params", "_keys", "_context", "_level_inverse")}
    try:
        codec._flow = timed(codec._flow, "flow (forward)")
        if codec._last_context is not None:
            codec._last_context = timed(codec._last_context, "last prior's context")
        for attribute, name in (("_params", "split {} prior"), ("_keys", "split {} keys"),
                                ("_context", "split {} context"), ("_level_inverse", "level {} inverse")):
            setattr(codec, attribute, [g if g is None else timed(g, name.format(i + 1))
                                       for i, g in enumerate(getattr(codec, attribute))])
        for stream in [codec.compress(p) for p in photos]:
            codec.decompress(stream)
    finally:
        for k, v in saved.items():
            setattr(codec, k, v)
    return spent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registered IDF model names, or NAME=WEIGHTS")
    parser.add_argument("--results", default="codec_profile", help="results file name")
    args = parser.parse_args(argv)
    photos = [image for _, image in data.photos("kodak24", mode="RGB")]
    rows, graph_rows = [], []
    for text in args.models:
        label, codec = _codec(text)
        for step, seconds, mpx, network, coder in profile(codec, photos):
            rows.append([label, step, f"{seconds:.2f}", f"{mpx:.2f}", f"{100 * network:.0f}%", f"{100 * coder:.0f}%",
                         f"{100 * (1 - network - coder):.0f}%", str(len(codec._logistic_models))])
            print(rows[-1], flush=True)
        spent = graph_seconds(codec, photos)
        for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:5]:
            graph_rows.append([label, name, f"{seconds:.2f}", f"{100 * seconds / sum(spent.values()):.0f}%"])
    table = markdown_table(["model", "step", f"seconds ({len(photos)} photos, warm)", "Mpx/s", "network (TensorFlow graphs)",
                            "rANS coder", "other (NumPy)", "entropy tables built"], rows)
    graphs = markdown_table(["model", "compiled graph", "seconds (encode + decode)", "share of the graphs' time"],
                            graph_rows)
    tables = table + "\n\n" + graphs
    print(tables)
    write_results(args.results, f"Where the codec's time goes on the {len(photos)} Kodak photographs", tables,
                  notes="Shares of the cProfile'd time; seconds and Mpx/s from an unprofiled pass after a warm-up. "
                        "The second table: the five compiled graphs that take longest, each call waited for (so "
                        "their seconds add up to a little more than the network's share).")


if __name__ == "__main__":
    main()
