"""Copy the tables of every results/*.md file into the README and the docs pages (docs/*.md), between
their markers:

    <!-- results/NAME.md -->
    ...tables, replaced...
    <!-- end results -->

Usage:
    python scripts/sync_readme.py            # rewrite README.md and docs/*.md in place
    python scripts/sync_readme.py --check    # exit 1 if any of them is out of date
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- (results/[\w.-]+\.md) -->\n)(.*?)(<!-- end results -->)", re.S)


def tables(text):
    """The Markdown tables of `text`, joined by blank lines."""
    blocks, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line.rstrip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    return "\n\n".join(blocks)


def documents():
    """The files that show results tables: the README, then the docs pages."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def synced(text):
    def replace(match):
        source = ROOT / match.group(2)
        if not source.exists():
            raise SystemExit(f"a document names {match.group(2)}, which does not exist")
        return f"{match.group(1)}{tables(source.read_text())}\n{match.group(4)}"

    return BLOCK.sub(replace, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    paths, stale, blocks = documents(), [], 0
    for path in paths:
        old = path.read_text()
        new = synced(old)
        blocks += len(BLOCK.findall(new))
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    if args.check:
        if stale:
            print(f"{', '.join(map(str, stale))} out of date with results/; run python scripts/sync_readme.py")
            return 1
        return 0
    print(f"{len(paths)} documents, {blocks} results blocks in sync ({len(stale)} rewritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
