"""The house rules of the package: layers run one way, folders import no folder above them, no circles."""

import ast
import subprocess
import sys
from pathlib import Path

import tpir

PACKAGE = Path(tpir.__file__).parent

# Layer of each folder (and of the top-level modules); an import must go to the same folder or a
# lower layer. Entry points sit on top; helpers that anything may use at the bottom.
LAYERS = {
    "tpir.utils": 0,
    "tpir.optim": 0,
    "tpir.config": 0,
    "tpir.metrics": 0,
    "tpir.text": 1,
    "tpir.data": 2,
    "tpir.models": 3,  # the LightningModule reads the typed training batch of tpir.data
    "tpir.inference": 4,
    "tpir.viz": 4,  # figures, and the attention recorder that reads the backbone's blocks
    "tpir.evaluation": 5,
    "tpir.stages": 6,
    "tpir.app": 6,
    "tpir.cli": 7,
    "tpir.notebook": 8,
    "tpir": 8,  # tpir/__init__.py: tpir.load
}


def home(module: str) -> str:
    """The folder (or top-level module) a module belongs to: ``tpir.data.tasks`` -> ``tpir.data``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tpir_imports(path: Path) -> set[str]:
    """Every tpir module a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "tpir" or name.startswith("tpir.")}


def folder_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = home(module_name(path))
        graph.setdefault(source, set()).update(home(target) for target in tpir_imports(path))
    return graph


def test_every_folder_has_a_layer() -> None:
    assert set(folder_graph()) <= set(LAYERS), set(folder_graph()) - set(LAYERS)


def test_no_folder_imports_a_folder_above_it() -> None:
    upward = [
        (source, target)
        for source, targets in folder_graph().items()
        for target in targets
        if target != source and LAYERS[target] >= LAYERS[source]
    ]
    assert upward == []


def test_there_are_no_circles_between_folders() -> None:
    graph = {source: targets - {source} for source, targets in folder_graph().items()}
    visiting, done = set(), set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in visiting, f"import circle: {' -> '.join((*trail, node))}"
        if node in done:
            return
        visiting.add(node)
        for target in graph.get(node, ()):
            visit(target, (*trail, node))
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, ())


def test_the_task_list_is_declared_in_one_place() -> None:
    """Task names appear as a list nowhere but in the declarations (``tpir.data.tasks``)."""
    declared = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if '"denoise"' in text and '"derain"' in text and '"dehaze"' in text:
            declared.append(module_name(path))
    assert declared == ["tpir.data.tasks"]


def test_restoring_a_photo_does_not_import_lightning() -> None:
    """``tpir-restore`` starts in about half the time without it (Lightning alone imports in 5 s here)."""
    check = (
        "import sys, tpir.cli.restore; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'pytorch_lightning'}))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
