"""The model card (``README.md``) of a model folder, and the test table training wrote for a checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# Written by the stage-2 runner beside metrics.json (the test table, Markdown); exports put it in the card.
TEST_TABLE_FILE = "test_table.md"


def _tested_line(checkpoint: Path) -> str:
    """The first line of ``test_table.md``: which checkpoint the table is of."""
    return f"<!-- tested: {checkpoint.resolve()} -->"


def tested_table_text(checkpoint: Path, table: str) -> str:
    """``test_table.md``: the test table of one checkpoint, which the first line names."""
    return f"{_tested_line(checkpoint)}\n{table}"


def tested_table_of(checkpoint: Path) -> str | None:
    """The test table the stage-2 runner wrote for exactly this checkpoint, or None."""
    path = checkpoint.resolve().parent.parent / TEST_TABLE_FILE
    if not path.is_file():
        return None
    first, _, table = path.read_text(encoding="utf-8").partition("\n")
    return table if first == _tested_line(checkpoint) else None


def model_card(config: Mapping[str, Any], test_table: str | None = None) -> str:
    """The model card (``README.md``) of a model folder: what it is, how to use it, how it was trained."""
    training = yaml.safe_dump(config.get("training", {}), sort_keys=False).rstrip()
    provenance = config.get("provenance", {})
    lines = [
        "---",
        "library_name: tpir",
        "tags: [image-restoration, text-guided, all-in-one]",
        "---",
        "",
        "# tpir restoration model",
        "",
        f"Text-guided all-in-one restoration (TextPromptIR) for: {', '.join(config.get('tasks', []))}.",
        f"Guidance: `{config['guidance']['class']}`. Trained for {provenance.get('global_step')} steps "
        f"(checkpoint `{provenance.get('checkpoint')}`).",
        "",
        "```python",
        "import tpir",
        'model = tpir.load("path/to/this/folder")',
        'restored = model.restore("photo.png", "remove the rain")',
        "```",
        "",
        "## Test scores (PSNR / SSIM)",
        "",
        test_table or "Not evaluated at export; run `tpir-eval model_dir=<this folder>`.",
        "",
        "## Training configuration",
        "",
        "```yaml",
        training,
        "```",
        "",
    ]
    return "\n".join(lines)
