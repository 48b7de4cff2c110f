"""Atomic file writes: a file is either its old content or its complete new content.

Every writer in synthaug goes through these three primitives. Each writes into a
temporary file in the *same folder* as the target (so the final rename never crosses a
file system) and renames it over the target only when the write finished. On any
failure the temporary file is removed and the target keeps its earlier content.
``OSError`` (disk full, permission denied, read-only file system) becomes
:class:`~synthaug.exceptions.OutputError` naming the target path.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

from ..exceptions import OutputError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _temp_sibling(path: Path) -> Path:
    # Keep the suffix so tools that look at it (np.savez adds ".npz" otherwise) behave;
    # the leading dot keeps half-written files out of folder listings and loaders.
    return path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}"


def _output_error(path: Path, exc: OSError, action: str) -> OutputError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return OutputError(
        f"{path}: cannot {action} ({reason}). Check that the folder exists, is writable "
        "and has free space, or choose another output path."
    )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds.

    The temporary file is created empty (with the usual permissions, i.e. ``0o666``
    minus the umask) before the block runs, so the caller may open it for writing or
    replace it. Missing parent folders are created.

    Parameters
    ----------
    path : str or path-like
        The final file.
    fsync : bool, default False
        Flush the finished file to disk before the rename (slower; use for files whose
        loss after a power failure matters, such as model weights).

    Yields
    ------
    Path
        The temporary file to write.

    Raises
    ------
    OutputError
        When the temporary file cannot be created, the block raises ``OSError``, or the
        final rename fails. ``path`` then keeps its earlier content and the temporary
        file is removed. Other exceptions from the block propagate unchanged (the
        temporary file is removed as well).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, cannot write a file there. Choose another path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
    except OSError as exc:
        raise _output_error(path, exc, "create a file in its folder") from None
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(path, exc, "write the file") from None
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (old content survives any failure).

    Parameters
    ----------
    path : str or path-like
        The final file; missing parent folders are created.
    data : bytes
        The complete new content.
    fsync : bool, default True
        Flush to disk before the rename. Pass ``False`` for many small files whose
        folder is itself staged (e.g. PNG exports).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        When the file cannot be written; ``path`` keeps its earlier content.
    """
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike, text: str, *, encoding: str = "utf-8", fsync: bool = True
) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8 by default, ``\\n`` line endings kept).

    See :func:`atomic_write_bytes` for the guarantees and errors.
    """
    return atomic_write_bytes(path, text.encode(encoding), fsync=fsync)
