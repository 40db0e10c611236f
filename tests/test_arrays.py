"""The package's array helpers against numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spatialconn._arrays import unique


@given(hnp.arrays(st.sampled_from([np.int32, np.int64, np.uint8]), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                   min_side=0)))
def test_unique_is_np_unique(a):
    got, want = unique(a), np.unique(a)
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)
