"""Copy the tables of every results/*.md file into the README, between its markers:

    <!-- results/NAME.md -->
    ...tables, replaced...
    <!-- end results -->

Usage:
    python scripts/sync_readme.py            # rewrite README.md in place
    python scripts/sync_readme.py --check    # exit 1 if the README is out of date
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


def synced(readme):
    def replace(match):
        source = ROOT / match.group(2)
        if not source.exists():
            raise SystemExit(f"README names {match.group(2)}, which does not exist")
        return f"{match.group(1)}{tables(source.read_text())}\n{match.group(4)}"

    return BLOCK.sub(replace, readme)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    old = path.read_text()
    new = synced(old)
    if args.check:
        if new != old:
            print("README.md is out of date with results/; run python scripts/sync_readme.py")
            return 1
        return 0
    path.write_text(new)
    print(f"README.md: {len(BLOCK.findall(new))} results blocks in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
