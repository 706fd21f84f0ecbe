"""``tpir-export``: turn a stage-2 training checkpoint into a self-contained model folder.

    tpir-export outputs/demo/restore/checkpoints/best.ckpt -o outputs/demo/model
    tpir-export RUN/checkpoints/last.ckpt --config RUN/.hydra/config.yaml -o my_model --overwrite

Run it from the folder training ran in: the run config names its text encoder relative to there.
The folder holds safetensors weights, the model config, the text encoder and its category centroids
(see ``tpir.inference.model``); ``tpir-restore --model`` and ``tpir-eval model_dir=`` read it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tpir.inference.model import ModelFolderError, RestorationModel


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tpir-export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a stage-2 Lightning checkpoint (.ckpt)")
    parser.add_argument("-o", "--out", type=Path, help="model folder to write (default: RUN/model)")
    parser.add_argument("--config", type=Path, help="the run's config (default: RUN/.hydra/config.yaml)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or args.checkpoint.resolve().parent.parent / "model"
    try:
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it.")
        model = RestorationModel.from_checkpoint(args.checkpoint, args.config)
        model.save(out, overwrite=args.overwrite)
    except (ModelFolderError, FileExistsError, FileNotFoundError) as error:
        print(f"tpir-export: error: {error}", file=sys.stderr)
        return 2
    spec = model.spec
    print(
        f"wrote {out} (guidance={spec.guidance}, tasks={', '.join(spec.tasks)}, step {spec.provenance.get('global_step')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
