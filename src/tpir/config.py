"""Where the Hydra configs live (inside the package) and the resolvers they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

# Shipped with the package, so an installed tpir composes without a checkout. A user's own config
# folder joins through Hydra's search path: tpir-train hydra.searchpath=[file:///path/to/my_conf]
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


def first_set(*values: Any) -> Any:
    """The first value that is not empty (``${tpir.or:${hydra:job.override_dirname},${stage.name}}``)."""
    return next((value for value in values if value not in (None, "")), None)


def sweep_name(mode: Any, sweep_dir: str) -> str | None:
    """The sweep folder's name in a multirun (a W&B group), None for a single run."""
    return Path(sweep_dir).name if getattr(mode, "name", str(mode)) == "MULTIRUN" else None


def absolute_path(path: str) -> str:
    """``path`` made absolute from the working directory (``${tpir.abspath:outputs/demo/text}``), so that a
    checkpoint's config names the same folder from wherever it is read later."""
    return str(Path(path).expanduser().resolve())


# Registered on import so that every composition (tpir-train, tpir-eval, the tests' compose) can use them.
OmegaConf.register_new_resolver("tpir.or", first_set, replace=True)
OmegaConf.register_new_resolver("tpir.sweep_name", sweep_name, replace=True)
OmegaConf.register_new_resolver("tpir.abspath", absolute_path, replace=True)
