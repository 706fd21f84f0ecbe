"""``tpir-collect``: tabulate the runs of a ``tpir-train -m`` sweep in the paper's layout
(:mod:`tpir.evaluation.collect`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tpir.cli.common import EXIT_OK, EXIT_SETUP
from tpir.evaluation.collect import MISSING, CollectError, find_runs, sweep_table
from tpir.evaluation.tables import csv_text, markdown
from tpir.utils import write_text_atomic


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tpir-collect``; returns the exit status (2 for a folder without runs)."""
    parser = argparse.ArgumentParser(
        prog="tpir-collect", description="Tabulate the runs of a tpir-train sweep in the paper's layout."
    )
    parser.add_argument("multirun_dir", type=Path, help="a tpir-train -m folder (outputs/multirun/<time>)")
    parser.add_argument("--metric-prefix", default="test", help="the scores to read: test (default) or val")
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="writes OUT.md and OUT.csv (default MULTIRUN_DIR/collected)",
    )
    args = parser.parse_args(argv)
    try:
        header, body = sweep_table(find_runs(args.multirun_dir), args.metric_prefix)
    except CollectError as error:
        print(f"tpir-collect: {error}", file=sys.stderr)
        return EXIT_SETUP
    text = markdown(header, [[MISSING if c is None else c for c in row] for row in body])
    print(text, end="")
    stem = args.out or args.multirun_dir / "collected"
    written = [
        write_text_atomic(stem.with_name(f"{stem.name}.md"), text),
        write_text_atomic(
            stem.with_name(f"{stem.name}.csv"), csv_text(header, [[c or "" for c in row] for row in body])
        ),
    ]
    print(f"Wrote {', '.join(map(str, written))}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
