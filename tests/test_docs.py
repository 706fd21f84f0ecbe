"""The documentation site builds with --strict: a broken link, a missing page or a module that the API
reference cannot collect fails here, not after a release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason='the docs tools: pip install -e ".[docs]"')
    pytest.importorskip("mkdocstrings_handlers.python", reason='the docs tools: pip install -e ".[docs]"')
    # Silence the MkDocs 2 notices that mkdocs-material and a plugin print on every build.
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert (tmp_path / "site" / "reference" / "tpir" / "index.html").is_file(), output
