"""``np.unique`` against ``spatialconn._arrays.unique`` (sort-based) on integer ids.

numpy 2.3 hashes in ``np.unique`` when no ``return_*`` is asked; on many
distinct values that is much slower than sorting. Prints a markdown table.

Usage::

    python benchmarks/unique.py
"""

from __future__ import annotations

import numpy as np
from _common import best_of

from spatialconn._arrays import unique


def main():
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}\n")
    print("| n | ids | np.unique | sort-based | ratio |")
    print("|---|---|---|---|---|")
    for n in (10**5, 10**6, 4 * 10**6):
        for name, a in (("0..n-1 in order", np.arange(n)), ("a permutation", rng.permutation(n)),
                        ("random in 0..1e9", rng.integers(0, 10**9, n))):
            t0, u0 = best_of(lambda: np.unique(a), 3)
            t1, u1 = best_of(lambda: unique(a), 3)
            assert np.array_equal(u0, u1)
            print(f"| {n:,} | {name} | {t0 * 1e3:,.1f} ms | {t1 * 1e3:,.1f} ms | {t0 / t1:,.0f}x |")


if __name__ == "__main__":
    main()
