"""Write one API reference page per module of ``src/tpir`` (mkdocs-gen-files), and the section's nav.

The pages are generated at build time from the package tree, so a module that is added, moved or
renamed never leaves a broken reference behind.
"""

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"

nav = mkdocs_gen_files.Nav()
for path in sorted((SOURCE / "tpir").rglob("*.py")):
    parts = tuple(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__main__" or any(part.startswith("_") and part != "__init__" for part in parts):
        continue
    # Only modules of regular packages (every folder up to src/tpir has an __init__.py): what the API is.
    if any(not (folder / "__init__.py").is_file() for folder in path.parents if SOURCE in folder.parents):
        continue
    page = Path(*parts).with_suffix(".md")
    if parts[-1] == "__init__":
        parts = parts[:-1]
        page = Path(*parts, "index.md")
    nav[parts] = page.as_posix()
    with mkdocs_gen_files.open(Path("reference", page), "w") as file:
        file.write(f"# `{'.'.join(parts)}`\n\n::: {'.'.join(parts)}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", page), path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as file:
    file.writelines(nav.build_literate_nav())
