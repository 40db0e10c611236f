"""Progress bars for long builds (tqdm), off by default in library calls.

Library functions take ``progress=False``; ``progress=True`` shows a tqdm
bar on stderr (the CLI turns it on). On a Dask cluster use
``spatialconn.dask.connect(..., progress=True)``, which shows Dask's own
progress bar of finished partitions.

Examples
--------
>>> with progress_bar(False, total=10) as bar:
...     bar.update(10)
>>> bar.n
10
"""

from __future__ import annotations

import contextlib

__all__ = ["progress_bar"]


class _Silent:
    """A do-nothing stand-in for a tqdm bar that still counts."""

    def __init__(self, total=None):
        self.total, self.n = total, 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass


@contextlib.contextmanager
def progress_bar(enabled, *, total=None, desc: str | None = None, unit: str = "it"):
    """A tqdm bar when ``enabled`` is True, else a silent counter.

    Parameters
    ----------
    enabled : bool
        Whether to show the bar.
    total : int, optional
        Expected count (``None``: unknown).
    desc, unit : str
        Label and unit of the bar.

    Raises
    ------
    TypeError
        If ``enabled`` is not a bool.
    ImportError
        If ``enabled`` and tqdm is not installed.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"progress must be True or False, got {enabled!r}")
    if not enabled:
        yield _Silent(total)
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # pragma: no cover - tqdm is a declared extra
        raise ImportError("progress=True needs tqdm: pip install 'spatialconn[progress]'") from exc
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
