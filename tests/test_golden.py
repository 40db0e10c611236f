"""Golden values: the random streams of the grid engine, pinned.

For a small fixed-seed problem per case (every rule, with and without
multapses, masks, periodic space, 1-3 D, several kernels) the sha256 of the
synapses (sources then targets as little-endian int64) and the first ten
pairs are stored. An accidental change of a stream (key derivation, draw
order, proposal tables) fails here. A deliberate change must update the
golden value and say so in the changelog of docs/performance.md.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import spatialconn as sc

_rng = np.random.default_rng(12345)
P1 = _rng.random((300, 1))
P2 = _rng.random((400, 2))
Q2 = _rng.random((250, 2))
P3 = _rng.random((400, 3))
FAR = np.r_[P2[:200], [[6.0, 6.0]]]  # one driver far from every partner: exact fallback
TORUS2 = sc.Space(extent=[(0, 1), (0, 1)], periodic=True)
TORUS3 = sc.Space(extent=[(0, 1)] * 3, periodic=True)

CASES = {
    "out_gauss_multi": lambda: sc.connect(P2, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.1), seed=1),
    "out_gauss_distinct": lambda: sc.connect(P2, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.1),
                                             multapses=False, autapses=False, seed=2),
    "out_race_distinct": lambda: sc.connect(P2, Q2, rule=sc.FixedOutDegree(150), kernel=sc.Gaussian(0.3),
                                            multapses=False, seed=3),
    "in_exp_torus": lambda: sc.connect(P2, Q2, rule=sc.FixedInDegree(8), kernel=sc.Exponential(0.1),
                                       space=TORUS2, seed=4),
    "in_exp_torus_distinct": lambda: sc.connect(P2, Q2, rule=sc.FixedInDegree(8), kernel=sc.Exponential(0.1),
                                                space=TORUS2, multapses=False, seed=5),
    "out_disc": lambda: sc.connect(P2, rule=sc.FixedOutDegree(6), kernel=sc.Gaussian(0.2),
                                   mask=sc.Disc(0.15), seed=6),
    "out_annulus_distinct": lambda: sc.connect(P2, rule=sc.FixedOutDegree(4), kernel=sc.Constant(),
                                               mask=sc.Annulus(0.05, 0.2), multapses=False, seed=7),
    "out_box_shifted": lambda: sc.connect(P2, rule=sc.FixedOutDegree(5),
                                          kernel=sc.Gaussian(0.1).shifted([0.1, 0.0]),
                                          mask=sc.Box((-0.2, -0.3), (0.4, 0.3)), seed=8),
    "out_ellipse_linear": lambda: sc.connect(P2, rule=sc.FixedOutDegree(5), kernel=sc.Linear(-2.0, 1.0),
                                             mask=sc.Ellipse((0.3, 0.1), angle=0.5), seed=9),
    "out_gamma": lambda: sc.connect(P2, rule=sc.FixedOutDegree(7), kernel=sc.Gamma(kappa=2.0, theta=0.05),
                                    seed=10),
    "out_1d_shifted": lambda: sc.connect(P1, rule=sc.FixedOutDegree(5),
                                         kernel=sc.Gaussian(0.05).shifted([0.05]), seed=11),
    "out_1d_distinct": lambda: sc.connect(P1, rule=sc.FixedOutDegree(5), kernel=sc.Exponential(0.03),
                                          multapses=False, seed=12),
    "out_3d_aniso": lambda: sc.connect(P3, rule=sc.FixedOutDegree(6),
                                       kernel=sc.AnisotropicGaussian(sigma=(0.2, 0.1, 0.05)), seed=13),
    "out_3d_torus_distinct": lambda: sc.connect(P3, rule=sc.FixedOutDegree(6), kernel=sc.Exponential(0.1),
                                                space=TORUS3, multapses=False, seed=14),
    "out_2d_aniso_rot": lambda: sc.connect(P2, rule=sc.FixedOutDegree(6),
                                           kernel=sc.AnisotropicGaussian(sigma=(0.2, 0.05), angle=0.7),
                                           multapses=False, seed=15),
    "out_far_multi": lambda: sc.connect(FAR, P2, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.05), seed=16),
    "out_far_distinct": lambda: sc.connect(FAR, P2, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.05),
                                           multapses=False, seed=17),
    "total_weighted": lambda: sc.connect(P2, rule=sc.FixedTotalNumber(2000), kernel=sc.Gaussian(0.1), seed=18),
    "total_uniform": lambda: sc.connect(P2, Q2, rule=sc.FixedTotalNumber(1500, sources="uniform"),
                                        kernel=sc.Gamma(kappa=2.0, theta=0.05), seed=19),
    "total_distinct": lambda: sc.connect(P2, rule=sc.FixedTotalNumber(1500), kernel=sc.Gaussian(0.1),
                                         multapses=False, seed=20),
    "total_torus_mask": lambda: sc.connect(P2, rule=sc.FixedTotalNumber(1000), kernel=sc.Exponential(0.1),
                                           mask=sc.Disc(0.3), space=TORUS2, seed=21),
    "bernoulli_gauss": lambda: sc.connect(P2, rule=sc.PairwiseBernoulli(0.8), kernel=sc.Gaussian(0.1), seed=22),
    "bernoulli_annulus": lambda: sc.connect(P2, Q2, rule=sc.PairwiseBernoulli(0.5), kernel=sc.Constant(),
                                            mask=sc.Annulus(0.05, 0.1), seed=23),
    "bernoulli_3d_torus": lambda: sc.connect(P3, rule=sc.PairwiseBernoulli(0.3), kernel=sc.Gaussian(0.1),
                                             space=TORUS3, autapses=False, seed=24),
    "bernoulli_1d": lambda: sc.connect(P1, rule=sc.PairwiseBernoulli(1.0), kernel=sc.Exponential(0.02), seed=25),
}


def fingerprint(conn) -> tuple[str, list]:
    """sha256 of (sources, targets) as int64 and the first ten pairs."""
    s = np.ascontiguousarray(conn.sources, dtype="<i8")
    t = np.ascontiguousarray(conn.targets, dtype="<i8")
    digest = hashlib.sha256(s.tobytes() + t.tobytes()).hexdigest()
    return digest, [(int(a), int(b)) for a, b in zip(s[:10], t[:10], strict=True)]


GOLDEN = {
    'bernoulli_1d': ('b9fcb4ef2b855084349b599cf39a0a790d7d1874eb2f48057548e172b40ce169', [(0, 19), (0, 202), (0, 206), (0, 0), (0, 216), (0, 236), (0, 65), (0, 246), (0, 287), (0, 101)]),
    'bernoulli_3d_torus': ('19a4c5340ceff0f068f064ba8a7bb355a87291c086d8bd4958a29dd4542f5599', [(0, 155), (1, 306), (1, 288), (1, 165), (1, 329), (1, 253), (1, 197), (1, 394), (2, 75), (3, 1)]),
    'bernoulli_annulus': ('30f4143446d9a0e2923472c19a06f67889738e610a23178e27c8057930b2981e', [(0, 49), (0, 205), (0, 42), (1, 169), (1, 140), (1, 233), (2, 201), (3, 164), (3, 209), (3, 78)]),
    'bernoulli_gauss': ('3fcf049323ef58d19ca64b33f6e135a227365287f5f6ea588ba4f351c772ae73', [(0, 18), (0, 28), (0, 147), (0, 355), (0, 174), (0, 0), (0, 35), (0, 53), (0, 237), (0, 271)]),
    'in_exp_torus': ('25ea418356302e563fc2a6a877c9fb56a85944878d8a41988407d0eefae23630', [(19, 0), (19, 0), (17, 0), (76, 0), (19, 0), (224, 0), (387, 0), (331, 0), (247, 1), (223, 1)]),
    'in_exp_torus_distinct': ('78e7ed05c0145bb3f954322ceee5a00fc7041b46c9bb49bdc7c357a8532d303e', [(177, 0), (194, 0), (365, 0), (388, 0), (172, 0), (137, 0), (251, 0), (315, 0), (238, 1), (274, 1)]),
    'out_1d_distinct': ('9465b42da001408bbb040de058fbd3ebb8a369777c11e37ecc2d0b7231fe3590', [(0, 236), (0, 65), (0, 287), (0, 206), (0, 216), (1, 1), (1, 254), (1, 188), (1, 22), (1, 101)]),
    'out_1d_shifted': ('d0cfd17f96924586c9e7d1ede7d89e98c5cb5e25fcec5bf896252d150dc2d56e', [(0, 188), (0, 101), (0, 46), (0, 158), (0, 91), (1, 265), (1, 50), (1, 210), (1, 188), (1, 155)]),
    'out_2d_aniso_rot': ('a10d243a6c1b34c5940dd117871a4f36e091c0f2069471f721205367ddb1d0f9', [(0, 1), (0, 174), (0, 126), (0, 30), (0, 35), (0, 237), (1, 174), (1, 295), (1, 312), (1, 30)]),
    'out_3d_aniso': ('c489f3c054e807333a8869228bbd75f84525488b5871c1260c704e2dd843e6c3', [(0, 362), (0, 283), (0, 55), (0, 55), (0, 16), (0, 0), (1, 1), (1, 394), (1, 164), (1, 1)]),
    'out_3d_torus_distinct': ('22d31f9a6d82006b45f3f21c01bf1cf5b7ec57126a296b7c2af5841850ae6df9', [(0, 27), (0, 62), (0, 127), (0, 0), (0, 369), (0, 102), (1, 62), (1, 120), (1, 334), (1, 147)]),
    'out_annulus_distinct': ('11c89ec1c39244cafb4600cb87ba2ba183e200e7c28a858a894e6c1c93bf995a', [(0, 300), (0, 383), (0, 147), (0, 375), (1, 205), (1, 46), (1, 292), (1, 368), (2, 227), (2, 366)]),
    'out_box_shifted': ('72010ebf5cef147a2008b78c30c2433f969d55e311479420e51f3feaaf76c6e5', [(0, 324), (0, 368), (0, 205), (0, 183), (0, 177), (1, 133), (1, 307), (1, 292), (1, 325), (1, 28)]),
    'out_disc': ('8714555adc3662d54f21830a4f7e4d5c253a3f7bb4150a4b39995ad8c25704bb', [(0, 324), (0, 147), (0, 355), (0, 62), (0, 205), (0, 368), (1, 253), (1, 18), (1, 372), (1, 292)]),
    'out_ellipse_linear': ('ece3945ce00656742a2e58cc00a5010deea859982afa70a047283dc06df6353b', [(0, 312), (0, 119), (0, 28), (0, 292), (0, 35), (1, 53), (1, 174), (1, 188), (1, 247), (1, 312)]),
    'out_far_distinct': ('a9b75d2a1757dd21099e6cf328ebf54d30c4dc9c3867c3a8a27fa4f173164dde', [(0, 30), (0, 271), (0, 0), (0, 35), (0, 52), (1, 126), (1, 1), (1, 300), (1, 147), (1, 324)]),
    'out_far_multi': ('592c181e18d4d8d979e29a4303d0907082ad06e68f67c508a625fc810fb4af34', [(0, 324), (0, 271), (0, 147), (0, 35), (0, 324), (1, 292), (1, 126), (1, 292), (1, 205), (1, 107)]),
    'out_gamma': ('471bfe83111304ec6167ae24f8bedea4ca8ad60a346d8a67758107314a4a811a', [(0, 133), (0, 271), (0, 188), (0, 279), (0, 295), (0, 28), (0, 344), (1, 154), (1, 271), (1, 271)]),
    'out_gauss_distinct': ('d2383de72c39e8412cbc9179a0e571e91b6b99057ec7cad23ad5313300f9d4f0', [(0, 147), (0, 350), (0, 332), (0, 141), (0, 5), (0, 30), (0, 253), (0, 324), (0, 390), (0, 230)]),
    'out_gauss_multi': ('b75201ad3e7db544317455ffd95323537785b993006a654c4286932b32645410', [(0, 62), (0, 107), (0, 247), (0, 1), (0, 152), (0, 295), (0, 126), (0, 1), (0, 355), (0, 126)]),
    'out_race_distinct': ('761fbe5edbc83f108a79713f6dc0fa24179dd823b7dc3dce9caa46717ef32c73', [(0, 64), (0, 88), (0, 42), (0, 49), (0, 164), (0, 99), (0, 5), (0, 177), (0, 19), (0, 213)]),
    'total_distinct': ('6f272190552ae2a8ad0eaa26020250a40e24788a9ad9ce14e857b0c49abfc9d1', [(0, 237), (0, 224), (0, 164), (0, 30), (0, 253), (0, 107), (0, 291), (1, 291), (1, 350), (1, 174)]),
    # changed deliberately (compiled engine, issue 11): weighted FixedTotalNumber's counts come from
    # pair proposals instead of exact row totals (docs/performance.md, changelog)
    'total_torus_mask': ('e68a603c169e73b4f30ce06d85e5b4724cbf0539baefd7e0ed802075db8f002b', [(0, 18), (0, 256), (0, 18), (1, 30), (1, 74), (2, 393), (2, 64), (2, 264), (3, 312), (4, 314)]),
    'total_uniform': ('9f24517c7a7091d283cdf57b0c3693a1687d57cbbf66e7f2b733aa81fdc651ca', [(0, 100), (0, 49), (0, 228), (1, 169), (1, 233), (1, 100), (1, 18), (1, 150), (2, 32), (2, 147)]),
    # changed deliberately (compiled engine, issue 11): weighted FixedTotalNumber's counts come from
    # pair proposals instead of exact row totals (docs/performance.md, changelog)
    'total_weighted': ('1a708996dff9aa22332b71792c5019504a817aaaf6d63f64539b819187fddae8', [(0, 141), (0, 62), (0, 276), (0, 344), (0, 368), (1, 310), (1, 133), (1, 159), (1, 86), (1, 79)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    digest, head = fingerprint(CASES[name]())
    want_digest, want_head = GOLDEN[name]
    assert head == want_head
    assert digest == want_digest


if __name__ == "__main__":  # regenerate: python -m tests.test_golden (then review the diff)
    for name in sorted(CASES):
        print(f"    {name!r}: {fingerprint(CASES[name]())!r},")
