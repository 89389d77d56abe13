"""Does calling the codec's compiled graphs as concrete functions make it faster? Side by side in one run.

Two codecs of the same flow: one calls each compiled graph through its `tf.function` (which matches every
call's arguments against its traces), the other (`codec._ConcreteGraph`, the codec's way) as the concrete
function traced on the first call. Both code every Kodak photograph alone, in turns (old, new, new, old,
...), every decode checked, and their streams are compared byte for byte: the graphs are the same, so the
streams must be.

Writes results/idf_graph_calls.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_graph_calls.py idf-photos --rounds 4
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def through_tf_function(function, input_signature):
    """The codec's graphs as they were called before `_ConcreteGraph`."""
    import tensorflow as tf

    return tf.function(function, input_signature=input_signature, autograph=False)


def codec_with(graph, flow, name):
    """A `Codec` of `flow` whose compiled graphs are made by `graph(function, input_signature)`."""
    from zoo.idf import codec

    saved = codec._ConcreteGraph
    codec._ConcreteGraph = graph
    try:
        return codec.Codec(flow, name)
    finally:
        codec._ConcreteGraph = saved


def timed_round(codec, photos):
    """(encode seconds, decode seconds, streams) of coding every photograph alone, every decode checked."""
    import numpy as np

    start = time.perf_counter()
    streams = [codec.compress(p) for p in photos]
    encode = time.perf_counter() - start
    start = time.perf_counter()
    decoded = [codec.decompress(s) for s in streams]
    decode = time.perf_counter() - start
    if not all(np.array_equal(d, p) for d, p in zip(decoded, photos)):
        raise AssertionError("a photograph did not decode to its pixels")
    return encode, decode, streams


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per way, in alternating order")
    args = parser.parse_args(argv)
    import zoo
    from zoo import data
    from zoo.idf import codec

    photos = [image for _, image in data.photos("kodak24", mode="RGB")]
    flow = zoo.load(args.model)
    ways = {"through tf.function (before)": codec_with(through_tf_function, flow, args.model),
            "as concrete functions (the codec)": codec_with(codec._ConcreteGraph, flow, args.model)}
    for c in ways.values():
        c.decompress(c.compress(photos[0]))  # trace, build the first tables
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    times, streams = {way: [] for way in ways}, {}
    for r in range(args.rounds):
        for way in (list(ways) if r % 2 == 0 else list(reversed(ways))):
            encode, decode, streams[way] = timed_round(ways[way], photos)
            times[way].append((megapixels / encode, megapixels / decode))
            print(way, f"{times[way][-1][0]:.3f} / {times[way][-1][1]:.3f} Mpx/s", flush=True)
    same = streams[list(ways)[0]] == streams[list(ways)[1]]
    rows = []
    for way, t in times.items():
        enc, dec = [x for x, _ in t], [y for _, y in t]
        rows.append([way, f"{statistics.mean(enc):.3f} ± {statistics.stdev(enc) / len(enc) ** 0.5:.3f}",
                     f"{statistics.mean(dec):.3f} ± {statistics.stdev(dec) / len(dec) ** 0.5:.3f}",
                     "yes" if same else "NO"])
    table = markdown_table(["graphs called", "encode Mpx/s (mean ± s.e.)", "decode Mpx/s (mean ± s.e.)",
                            "streams identical"], rows)
    print(table)
    write_results("idf_graph_calls", f"`{args.model}`: the codec's compiled graphs called two ways, the "
                  f"{len(photos)} Kodak photographs each alone, {args.rounds} alternating rounds each", table)
    if not same:
        raise SystemExit("the two ways made different streams")


if __name__ == "__main__":
    main()
