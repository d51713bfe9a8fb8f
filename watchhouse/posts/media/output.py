"""Writing public copies so that a final file name only ever holds a complete file.

Every producer writes to a hidden temporary name in the output folder and calls
:func:`output_commit` when the file is complete: a worker killed half-way leaves at most a
``.*.part`` file behind, never a truncated file under the name the site serves.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# Suffix of files still being written; nothing links to them.
PART_SUFFIX = ".part"


@dataclass(frozen=True)
class Rendition:
    """One public copy of an upload, complete on disk at ``path``."""

    name: str
    path: Path
    mime: str
    width: int | None
    height: int | None
    bytes: int


def output_partial(out_dir: Path, final_name: str) -> Path:
    """Return an unused temporary path in ``out_dir`` for a file to be named ``final_name``."""
    return out_dir / f".{final_name}.{secrets.token_hex(6)}{PART_SUFFIX}"


def output_commit(
    partial: Path,
    final: Path,
    *,
    name: str,
    mime: str,
    width: int | None,
    height: int | None,
) -> Rendition:
    """Flush ``partial`` to disk, rename it to ``final`` atomically and describe the result."""
    # fsync first so that a crash after the rename cannot leave an empty file under the name.
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, final)
    return Rendition(
        name=name,
        path=final.resolve(),
        mime=mime,
        width=width,
        height=height,
        bytes=final.stat().st_size,
    )


def output_discard(*paths: Path) -> None:
    """Remove files written by a processing run that did not finish; missing ones are fine."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
