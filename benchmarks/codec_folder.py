"""`zoo compress` / `zoo decompress` on a folder of photographs, one file at a time against several at a time
(`files.compress_paths(..., jobs=N)`), side by side: folder throughput in megapixels per second, reading and
writing the files included, with the default model choice and precision.

One file's decode runs the network's passes on every core, but between them the NumPy and rANS work runs
on one; a second file in flight uses the rest. Every setting must write the same bytes, and every
restored PNG must equal its original (both checked). One untimed pass per setting first (tracing, tables),
then `--repeats` timed passes that alternate between the settings, so a machine's drift reaches all alike;
the table gives the median.

Usage:
    python benchmarks/codec_folder.py                       # the Kodak photographs, jobs 1 and 2

Writes results/codec_folder.md.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo import data  # noqa: E402
from zoo.idf import files  # noqa: E402


def timed(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", default="kodak24", help="a photos/ collection of PNG files")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="the settings compared")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting")
    args = parser.parse_args(argv)
    folder = data.photos_dir() / args.collection
    originals = {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}
    megapixels = sum(a.shape[0] * a.shape[1] for a in originals.values()) / 1e6
    seconds = {jobs: ([], []) for jobs in args.jobs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        passes = [(jobs, False) for jobs in args.jobs]
        passes += [(jobs, True) for _ in range(args.repeats) for jobs in args.jobs]
        for jobs, measured in tqdm(passes, desc="passes"):
            coded, restored = tmp / f"coded-{jobs}", tmp / f"restored-{jobs}"
            encode = timed(lambda: files.compress_paths([folder], coded, jobs=jobs))
            decode = timed(lambda: files.decompress_paths([coded], restored, jobs=jobs))
            for name, pixels in originals.items():
                if not np.array_equal(np.asarray(Image.open(restored / name)), pixels):
                    raise SystemExit(f"{name}: restored pixels differ (jobs {jobs})")
            if measured:
                seconds[jobs][0].append(encode)
                seconds[jobs][1].append(decode)
        first = args.jobs[0]
        for jobs in args.jobs[1:]:
            for name in originals:
                stream = Path(name).with_suffix(files.SUFFIX).name
                if (tmp / f"coded-{jobs}" / stream).read_bytes() != (tmp / f"coded-{first}" / stream).read_bytes():
                    raise SystemExit(f"{stream}: jobs {jobs} wrote other bytes than jobs {first}")
    rows = []
    for jobs, (encodes, decodes) in seconds.items():
        encode, decode = statistics.median(encodes), statistics.median(decodes)
        rows.append([str(jobs), f"{encode:.1f}", f"{megapixels / encode:.2f}", f"{decode:.1f}",
                     f"{megapixels / decode:.2f}"])
    table = markdown_table(["files at a time (`--jobs`)", "compress s", "compress Mpx/s", "decompress s",
                            "decompress Mpx/s"], rows)
    print(table)
    write_results("codec_folder", f"`zoo compress` / `zoo decompress` on the folder photos/{args.collection} "
                                  f"({len(originals)} PNG files, {megapixels:.2f} Mpx), default model and precision",
                  table, f"Median of {args.repeats} timed passes per setting, alternating; seconds for the whole "
                         "folder, PNG reading and writing included. Every setting wrote the same bytes, and every "
                         "restored PNG equals its original.")


if __name__ == "__main__":
    main()
