"""Atomic file output: write under a temporary name, rename on success.

An interrupted or failing write (an exception in the data iterator, a full
disk, Ctrl-C) removes the temporary file or directory and leaves nothing
under the final name; an existing file under that name is only replaced
once the new one is complete.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> with atomic_path(os.path.join(d, "a.txt")) as tmp:
...     with open(tmp, "w") as f:
...         _ = f.write("done")
>>> sorted(os.listdir(d))
['a.txt']
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid

__all__ = ["atomic_path", "check_target", "remove_path"]


def check_target(path, *, directory: bool = False, overwrite: bool = True, allowed=None) -> str:
    """Validate an output ``path`` before anything is written; return it as ``str``.

    Parameters
    ----------
    path : str or os.PathLike
    directory : bool
        Whether the output is a directory (a partitioned dataset).
    overwrite : bool
        Whether an existing output may be replaced.
    allowed : callable, optional
        For directories: ``allowed(name) -> bool`` says whether an existing
        directory entry looks like one of ours; an existing directory holding
        anything else is never replaced (protects against ``path="."``).

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If the parent directory does not exist, or ``path`` exists and may
        not (or must not) be replaced.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or os.path.basename(path.rstrip(os.sep)) in ("", ".", ".."):
        raise ValueError(f"path must name a file or directory, got {path!r}")
    path = path.rstrip(os.sep) if directory else path
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"path {path!r}: directory {parent!r} does not exist")
    if os.path.lexists(path):
        if not overwrite:
            raise ValueError(f"path {path!r} exists; pass overwrite=True to replace it")
        if os.path.isdir(path) and not directory:
            raise ValueError(f"path {path!r} is a directory, expected a file name")
        if directory:
            if not os.path.isdir(path):
                raise ValueError(f"path {path!r} is a file, expected a directory for a partitioned dataset")
            foreign = [n for n in os.listdir(path) if allowed is None or not allowed(n)]
            if foreign:
                raise ValueError(
                    f"path {path!r} is a directory with other content ({foreign[:3]}...); "
                    "refusing to replace it"
                )
    return path


def remove_path(path: str) -> None:
    """Remove a file or directory tree if it exists (no error otherwise)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str, *, directory: bool = False):
    """Yield a temporary path next to ``path``; move it to ``path`` on success.

    With ``directory=True`` the temporary path is created as an empty
    directory. On any exception (``KeyboardInterrupt`` included) the
    temporary output is removed and the exception propagates.

    Parameters
    ----------
    path : str
        Final name (checked beforehand with :func:`check_target`).
    directory : bool
        Produce a directory instead of a file.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> try:
    ...     with atomic_path(target) as tmp:
    ...         open(tmp, "wb").close()
    ...         raise RuntimeError("interrupted")
    ... except RuntimeError:
    ...     pass
    >>> os.path.exists(target)
    False
    """
    head, tail = os.path.split(os.path.abspath(path))
    tmp = os.path.join(head, f".{tail}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    if directory:
        os.mkdir(tmp)
    try:
        yield tmp
        _replace(tmp, os.path.abspath(path))
    except BaseException:
        remove_path(tmp)
        raise


def _replace(tmp: str, final: str) -> None:
    if os.path.isdir(tmp) and os.path.isdir(final):
        # directories cannot be renamed over a non-empty directory: swap via a backup name
        backup = f"{tmp}.old"
        os.rename(final, backup)
        try:
            os.rename(tmp, final)
        except BaseException:
            os.rename(backup, final)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, final)
