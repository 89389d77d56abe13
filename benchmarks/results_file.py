"""Benchmark results as committed files: `results/<name>.md`, each a header (what ran, when, on which
commit, the command) and one Markdown table that the README or a docs page shows verbatim (a test checks they agree).

Example:
    >>> from results_file import write_results, markdown_table
    >>> table = markdown_table(["codec", "bits/dim"], [["PNG", "5.915"]])
    >>> write_results("compression", "Lossless compression of CIFAR-10 test images", table)
"""

import datetime
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def markdown_table(header, rows):
    """A Markdown table from a header and rows of cells (already formatted as strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _code_at_start():
    """The checkout's commit when the script started (a long benchmark must not record a later one)."""
    sys.path.insert(0, str(ROOT))
    from zoo.training import code_version

    return code_version()


_CODE = _code_at_start()


def write_results(name, title, table, notes=""):
    """Write `results/<name>.md` with the date, the git commit measured (the one checked out when the script
    started) and the command that ran."""
    code = _CODE
    commit = code["commit"] + (" (with uncommitted changes)" if code["dirty"] else "")
    command = " ".join(f"{k}={v}" for k, v in os.environ.items() if k == "ZOO_DATA_DIR")
    command = (command + " " if command else "") + "python " + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    RESULTS.mkdir(exist_ok=True)
    text = (f"# {title}\n\n- command: `{command}`\n- date: {datetime.date.today().isoformat()}\n"
            f"- commit: {commit}\n- machine: {len(os.sched_getaffinity(0))} of {os.cpu_count()} CPU cores\n\n{table}\n")
    if notes:
        text += f"\n{notes}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    print(f"wrote {path}")
    return path
