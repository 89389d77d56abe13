"""Do the codec's streams decode on other CPUs? Each precision's streams, decoded where TensorFlow runs other kernels.

A stream decodes only where the decoder's networks reproduce the encoder's floats exactly. TensorFlow's
CPU convolutions (oneDNN) pick their kernels by the CPU's instruction set, and with them the order and
width of their sums. This script codes Kodak photographs with `idf-photos` (colour) and `idf-gray` (their
luma) in each precision on this machine, then decodes every stream in fresh processes that hold oneDNN to
older instruction sets (`ONEDNN_MAX_CPU_ISA`, as on a CPU without AMX or without AVX-512) or turn it off
(`TF_ENABLE_ONEDNN_OPTS=0`, TensorFlow's own kernels), and counts the streams restored bit for bit. It
emulates other CPUs' kernels on this one (the rest of the process runs as here), so a failure shows a
stream that another CPU could not read; a success is evidence, not proof, for a real machine of that kind.

Writes results/idf_portability.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_portability.py --photos 4
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

ENVIRONMENTS = {  # column -> environment of the decoding process
    "this machine": {},
    "oneDNN up to AVX-512 BF16 (no AMX)": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "oneDNN up to AVX-512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "oneDNN up to AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "TensorFlow's own kernels (oneDNN off)": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}

_DECODE = """
import json, sys, numpy as np
from zoo.idf import decompress
outcomes = {}
for path in sys.argv[1:]:
    try:
        outcomes[path] = "restored" if np.array_equal(decompress(open(path, "rb").read()), np.load(path + ".npy")) \\
            else "wrong pixels"
    except Exception as e:  # the table counts what each stream did
        outcomes[path] = type(e).__name__ + (": CRC" if "CRC32" in str(e) else "")
print(json.dumps(outcomes))
"""


def decode_elsewhere(paths, environment):
    """{path: outcome} of decoding each stream in a fresh process with `environment` added."""
    done = subprocess.run([sys.executable, "-c", _DECODE, *map(str, paths)], capture_output=True, text=True,
                          env={**os.environ, **environment}, timeout=3600)
    if done.returncode:
        return {str(path): f"process failed ({done.stderr.strip().splitlines()[-1][:60]})" for path in paths}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cell(outcomes):
    """'n of m restored', and what the others did."""
    restored = sum(o == "restored" for o in outcomes)
    others = sorted({o for o in outcomes if o != "restored"})
    return f"{restored} of {len(outcomes)}" + (f" ({', '.join(others)})" if others else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=4, help="the first N Kodak photographs")
    args = parser.parse_args(argv)
    from zoo import data
    from zoo.idf import Codec
    from zoo.idf.codec import bfloat16_units

    precisions = (["bfloat16"] if bfloat16_units() else []) + ["float32", "portable"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        streams = {}
        for model, mode in (("idf-photos", "RGB"), ("idf-gray", "L")):
            photos = [image if image.ndim == 3 else image[..., None]
                      for _, image in data.photos("kodak24", mode=mode)][: args.photos]
            for precision in precisions:
                codec = Codec.for_model(model, precision)
                paths = []
                for i, photo in enumerate(photos):
                    path = Path(folder) / f"{model}-{precision}-{i}.idf"
                    path.write_bytes(codec.compress(photo))
                    np.save(str(path) + ".npy", photo)
                    paths.append(path)
                streams[model, precision] = paths
        outcomes = {}
        for column, environment in ENVIRONMENTS.items():
            print(f"decoding with {column}", flush=True)
            outcomes[column] = decode_elsewhere([p for paths in streams.values() for p in paths], environment)
        for (model, precision), paths in streams.items():
            rows.append([f"`{model}`", precision, *(cell([outcomes[column][str(p)] for p in paths])
                                                     for column in ENVIRONMENTS)])
    table = markdown_table(["model", "precision", *(f"decoded: {c}" for c in ENVIRONMENTS)], rows)
    print(table)
    cpu = "with AMX and AVX-512 BF16" if bfloat16_units() else "without bfloat16 units"
    write_results("idf_portability", f"Streams of {args.photos} Kodak photographs coded on this machine (a CPU "
                  f"{cpu}), decoded in processes that run other kernels", table,
                  notes="Each cell counts the streams restored bit for bit; CodecError: CRC is a stream decoded "
                        "to other pixels and refused by its CRC32; another error names its class. "
                        "ONEDNN_MAX_CPU_ISA caps the instruction set oneDNN's kernels use on this CPU.")


if __name__ == "__main__":
    main()
