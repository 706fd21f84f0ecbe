"""``tpir-export``: turn a stage-2 training checkpoint into a self-contained model folder.

    tpir-export outputs/demo/restore -o outputs/demo/model          # a run folder: its best, else last, checkpoint
    tpir-export RUN/checkpoints/last.ckpt -o my_model --overwrite

The checkpoint carries its config; its text encoder must still be where training loaded it from. The
folder holds safetensors weights, ``config.json``, the text encoder, its category centroids and a model
card, with the test table that training wrote for this very checkpoint when there is one (see
``tpir.inference.folder``); ``tpir.load``, ``tpir-restore --model`` and ``tpir-eval model_dir=`` read it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tpir.cli.common import EXIT_OK, EXIT_SETUP
from tpir.inference.card import model_card, tested_table_of
from tpir.inference.checkpoints import find_checkpoint, restorer_from_checkpoint
from tpir.inference.folder import ModelFolderError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tpir-export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a stage-2 checkpoint (.ckpt) or its run folder")
    parser.add_argument(
        "-o", "--out", type=Path, help="model folder to write (default: RUN/model, or <checkpoint>_model)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        checkpoint = find_checkpoint(args.checkpoint)
        in_run = checkpoint.resolve().parent.name == "checkpoints"
        default = (
            checkpoint.resolve().parent.parent / "model"
            if in_run
            else checkpoint.with_name(f"{checkpoint.stem}_model")
        )
        out = args.out or default
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it.")
        model = restorer_from_checkpoint(checkpoint)
        card = model_card(model.config.to_dict(), tested_table_of(checkpoint) if in_run else None)
        model.save_pretrained(out, overwrite=args.overwrite, card=card)
    except (ModelFolderError, FileExistsError, FileNotFoundError) as error:
        print(f"tpir-export: error: {error}", file=sys.stderr)
        return EXIT_SETUP
    except OSError as error:  # a read-only folder, a full disk
        print(f"tpir-export: error: cannot write {out} ({error.strerror or error}).", file=sys.stderr)
        return EXIT_SETUP
    step = model.config.provenance["global_step"]
    guidance = model.config.guidance["class"]
    print(f"wrote {out} from {checkpoint} ({guidance}, tasks {', '.join(model.tasks)}, step {step})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
