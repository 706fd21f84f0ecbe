"""``tpir-app``: restore photos by typing, in the browser, on this machine only.

    tpir-app                                   # the default model (as tpir-restore's), on http://127.0.0.1:7860
    tpir-app --model my_model --port 8000      # another exported model folder

The page serves on 127.0.0.1 unless ``--host`` says otherwise, makes no share link, sends no analytics
and fetches nothing from outside. A dropdown lists the exported models found under the output root
(``TPIR_OUTPUT_DIR``, else ``./outputs``). Needs the ``app`` extra: ``pip install "tpir[app]"``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Before Gradio is imported: no usage reports, no version checks over the network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tpir.cli.common import EXIT_OK, EXIT_SETUP, choose_model, output_root

PROG = "tpir-app"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", type=Path, default=None, help=f"model folder (default: {choose_model().folder})"
    )
    parser.add_argument(
        "--models-root", type=Path, default=None, help=f"where to list models (default: {output_root()})"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        print(
            f'{PROG}: error: the app needs Gradio: pip install "tpir[app]" (or run `make app`).',
            file=sys.stderr,
        )
        return EXIT_SETUP
    from tpir.app.page import build_page, serve  # Gradio is imported here, once it is known to be there

    choice = choose_model(args.model)
    print(choice.summary(), flush=True)
    page = build_page(choice.folder, args.models_root or output_root())
    print(f"{PROG}: serving on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a page is stopped, not an error
        serve(page, args.host, args.port)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
