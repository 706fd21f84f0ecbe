"""``tpir-export``: turn a stage-2 training checkpoint into a self-contained model folder.

    tpir-export outputs/demo/restore -o outputs/demo/model          # a run folder: its best, else last, checkpoint
    tpir-export RUN/checkpoints/last.ckpt -o my_model --overwrite

The checkpoint carries its config; its text encoder must still be where training loaded it from. The
folder holds safetensors weights, ``config.json``, the text encoder, its category centroids and a model
card with the run's test table when the run wrote one (see ``tpir.inference.model``); ``tpir.load``,
``tpir-restore --model`` and ``tpir-eval model_dir=`` read it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tpir.inference.model import TEST_TABLE_FILE, ModelFolderError, Restorer, model_card


def find_checkpoint(path: Path) -> Path:
    """``path`` itself, or in a run folder ``checkpoints/best.ckpt``, else ``checkpoints/last.ckpt``."""
    if not path.is_dir():
        return path
    for name in ("best.ckpt", "last.ckpt"):
        if (path / "checkpoints" / name).is_file():
            return path / "checkpoints" / name
    raise ModelFolderError(f"{path}: a folder without checkpoints/best.ckpt or checkpoints/last.ckpt.")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tpir-export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a stage-2 checkpoint (.ckpt) or its run folder")
    parser.add_argument("-o", "--out", type=Path, help="model folder to write (default: RUN/model)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        checkpoint = find_checkpoint(args.checkpoint)
        run = checkpoint.resolve().parent.parent
        out = args.out or run / "model"
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it.")
        model = Restorer.from_checkpoint(checkpoint)
        table = run / TEST_TABLE_FILE
        card = model_card(model.config, table.read_text(encoding="utf-8") if table.is_file() else None)
        model.save_pretrained(out, overwrite=args.overwrite, card=card)
    except (ModelFolderError, FileExistsError, FileNotFoundError) as error:
        print(f"tpir-export: error: {error}", file=sys.stderr)
        return 2
    step = model.config["provenance"]["global_step"]
    guidance = model.config["guidance"]["class"]
    print(f"wrote {out} from {checkpoint} ({guidance}, tasks {', '.join(model.tasks)}, step {step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
