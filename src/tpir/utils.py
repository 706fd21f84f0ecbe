"""Helpers shared by the entry points: writing results and checkpoints whole or not at all, reading
checkpoints without unpickling code. Nothing here imports Lightning, so inference starts quickly."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


def _read_umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, on import, while the process is still single-threaded: reading it changes it for a moment.
_UMASK = _read_umask()


def current_umask() -> int:
    """The file-creation mask this process started with."""
    return _UMASK


@contextlib.contextmanager
def atomic_path(path: str | Path, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it becomes ``path`` in one step.

    The file gets the mode of an ordinary new file; the temporary file is removed whatever happens.

    Args:
        path: the file to write.
        exclusive: never replace ``path``: the finished file is linked to it, which fails if ``path`` has
            appeared meanwhile, so of two writers of one new file exactly one wins.

    Raises:
        FileExistsError: ``exclusive`` and ``path`` exists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        yield Path(partial)
        os.chmod(partial, 0o666 & ~_UMASK)  # mkstemp makes owner-only files
        if exclusive:
            _publish_exclusive(Path(partial), path)
        else:
            os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def already_exists(path: Path) -> FileExistsError:
    """The error of a write that would replace ``path`` without being asked to."""
    return FileExistsError(f"{path}: already exists; pass --overwrite to replace it.")


# Why a filesystem refuses a hard link although the folder is writable (FAT, some network mounts).
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS)


def _publish_exclusive(partial: Path, path: Path) -> None:
    """Give the finished file ``partial`` the new name ``path``, in one step that fails if ``path`` exists.

    A hard link is made atomically and never replaces a file. Where the filesystem has no hard links, the
    file is copied into ``path`` opened with ``O_CREAT | O_EXCL``: as exclusive, but readers could see it
    half-copied, and a failed copy is removed.

    Raises:
        FileExistsError: ``path`` exists.
    """
    try:
        os.link(partial, path)
        return
    except FileExistsError:
        raise already_exists(path) from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
    try:
        target = path.open("xb")  # closed below, after the copy
    except FileExistsError:
        raise already_exists(path) from None
    try:
        with target, partial.open("rb") as source:
            shutil.copyfileobj(source, target)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` so that readers never see half a file (see :func:`atomic_path`)."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON, atomically (see :func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


class CheckpointError(ValueError):
    """A checkpoint file that is missing, incomplete, unsafe or of another run; the message names it."""


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint of tensors and plain values, loaded with ``weights_only=True`` passed explicitly, which
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn off: a file with code in it is refused, not run.

    Raises:
        CheckpointError: the file is missing, truncated, not a checkpoint, or holds anything but tensors
            and plain values.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"{path}: not a checkpoint that loads safely ({type(error).__name__}); expected a complete "
            "Lightning checkpoint of tensors and plain values (weights_only=True)."
        ) from error
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path}: holds a {type(saved).__name__}; expected a Lightning checkpoint (a dict)."
        )
    return saved
