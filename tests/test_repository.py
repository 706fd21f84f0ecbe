"""What the repository promises of itself: its files cite only what ships with it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Planning documents kept beside the checkout, never inside it (spelled in two pieces so that this file
# does not cite them itself).
OUTSIDE_DOCUMENTS = ("DESIGN" + ".md", "STYLE" + ".md")


def test_no_shipped_file_cites_a_document_that_is_not_in_the_repository() -> None:
    shipped = [
        path
        for folder in ("src", "tests", "notebooks", "benchmarks", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".yaml", ".md", ".ipynb", ".tsv") and path.is_file()
    ] + [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    citing = [
        str(path.relative_to(ROOT))
        for path in shipped
        if any(name in path.read_text(encoding="utf-8", errors="replace") for name in OUTSIDE_DOCUMENTS)
    ]
    assert len(shipped) > 50 and not citing, citing
