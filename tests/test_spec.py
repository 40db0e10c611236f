"""Tests of the TOML network spec: parsing, positions, defaults and errors."""

from __future__ import annotations

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.spec import SpecError, generate, load, parse, read

POP = '[populations.a]\npositions = "uniform"\nn = 40\nextent = [[0, 2], [0, 1]]\n'


def proj(extra="", name="p", rule='{ type = "FixedOutDegree", k = 3 }'):
    return f'[projections.{name}]\nsource = "a"\nrule = {rule}\n{extra}\n'


def test_generators():
    u = generate("uniform", seed=1, n=1000, extent=[[0, 2], [-1, 1], [5, 6]])
    assert u.shape == (1000, 3)
    assert u.min(axis=0).tolist() > [0, -1, 5] and u.max(axis=0).tolist() < [2, 1, 6]
    g = generate("grid", seed=0, shape=[3, 2], extent=[[0, 3], [0, 1]])
    assert g.tolist() == [[0.5, 0.25], [0.5, 0.75], [1.5, 0.25], [1.5, 0.75], [2.5, 0.25], [2.5, 0.75]]
    n = generate("normal", seed=2, n=20000, mean=[1.0, -1.0], std=2.0)
    assert np.allclose(n.mean(axis=0), [1, -1], atol=0.05) and np.allclose(n.std(axis=0), 2, atol=0.05)
    assert generate("normal", seed=2, n=5, dim=3).shape == (5, 3)
    assert np.array_equal(generate("uniform", seed=4, n=10, extent=[[0, 1]]),
                          generate("uniform", seed=4, n=10, extent=[[0, 1]]))


def test_every_rule_kernel_and_mask_type():
    kernels = ['{ type = "Gaussian", sigma = 0.1, mean = 0.05 }', '{ type = "Exponential", scale = 0.1 }',
               '{ type = "Gamma", kappa = 2.0, theta = 0.05 }', '{ type = "Linear", slope = -2.0, intercept = 1.0 }',
               '{ type = "Constant" }', '{ type = "AnisotropicGaussian", sigma = [0.2, 0.05], angle = 0.5 }',
               '{ type = "AnisotropicGaussian", sigma = [0.2, 0.05], rho = 0.3, mean = [0.1, 0.0] }',
               '{ type = "Gaussian", sigma = 0.1, offset = [0.1, 0.0] }']
    masks = ['{ type = "Disc", radius = 0.5 }', '{ type = "Annulus", inner = 0.05, outer = 0.6 }',
             '{ type = "Box", lower = [-0.5, -0.5], upper = [0.5, 0.5] }',
             '{ type = "Ellipse", semi_axes = [0.6, 0.4], angle = 0.3 }']
    rules = ['{ type = "FixedOutDegree", k = 2 }', '{ type = "FixedInDegree", k = 2 }',
             '{ type = "FixedTotalNumber", n = 30, sources = "uniform" }',
             '{ type = "PairwiseBernoulli", p = 0.2 }', '{ type = "PairwisePoisson", rate = 0.5 }']
    text = POP
    for i, k in enumerate(kernels):
        text += proj(f"kernel = {k}\nmask = {masks[i % len(masks)]}", f"k{i}", rules[i % len(rules)])
    net = parse(text)
    assert isinstance(net.projections["k7"].kernel, sc.Shifted)
    assert isinstance(net.projections["k5"].kernel, sc.AnisotropicGaussian)
    assert isinstance(net.projections["k1"].mask, sc.Annulus)
    assert net.projections["k2"].rule == sc.FixedTotalNumber(30, sources="uniform")
    assert net.projections["k4"].rule == sc.PairwisePoisson(0.5)
    for name in net.projections:
        conn = net.connect(name)
        assert conn.n_sources == 40


def test_defaults_seeds_and_space():
    text = ('seed = 5\n[space]\nextent = [[0, 2], [0, 1]]\n' + POP
            + '[populations.b]\npositions = "normal"\nn = 30\n'
            + proj() + proj('space = { extent = [[-1, 3], [-1, 2]], periodic = [true, false] }', "q")
            + '[projections.r]\nsource = "a"\ntarget = "b"\nrule = { type = "FixedInDegree", k = 1 }\nseed = 9\n'
            + '[projections.b_open]\nsource = "b"\nrule = { type = "FixedInDegree", k = 1 }\n')
    net = parse(text)
    p, q, r = net.projections["p"], net.projections["q"], net.projections["r"]
    assert p.recurrent and p.target == "a" and p.multapses and p.autapses
    assert p.space.periodic == (True, True) and q.space.periodic == (True, False)
    assert r.seed == 9 and not r.recurrent and p.seed != q.seed
    # the derived seeds do not depend on the order of the tables
    reordered = parse('seed = 5\n[space]\nextent = [[0, 2], [0, 1]]\n' + proj("", "q0") + POP)
    assert parse('seed = 5\n' + POP + proj("", "q0")).projections["q0"].seed == \
        reordered.projections["q0"].seed
    assert np.array_equal(parse("seed = 5\n" + POP + proj()).populations["a"].positions,
                          net.populations["a"].positions)
    assert not np.array_equal(parse("seed = 6\n" + POP + proj()).populations["a"].positions,
                              net.populations["a"].positions)


def test_positions_from_files(tmp_path):
    pos = np.random.default_rng(0).random((25, 2))
    np.save(tmp_path / "a.npy", pos)
    np.savetxt(tmp_path / "plain.csv", pos, delimiter=",")
    rows = (f"{i},{float(x)!r},{float(y)!r}" for i, (x, y) in enumerate(pos))
    (tmp_path / "named.csv").write_text("id,x,y\n" + "\n".join(rows))
    assert np.array_equal(read(tmp_path / "a.npy"), pos)
    assert np.allclose(read(tmp_path / "plain.csv"), pos)
    assert np.array_equal(read(tmp_path / "named.csv", columns=["x", "y"]), pos)
    text = ('[populations.a]\nfile = "named.csv"\ncolumns = ["x", "y"]\n'
            '[populations.b]\nfile = "a.npy"\n' + proj() + '[projections.ab]\nsource = "a"\ntarget = "b"\n'
            'rule = { type = "FixedOutDegree", k = 2 }\n')
    (tmp_path / "net.toml").write_text(text)
    net = load(tmp_path / "net.toml")
    assert np.array_equal(net.populations["a"].positions, pos)
    assert len(net.connect("ab")) == 50


def test_positions_from_sonata_nodes(tmp_path):
    h5py = pytest.importorskip("h5py")
    pos = np.random.default_rng(1).random((30, 3))
    with h5py.File(tmp_path / "nodes.h5", "w") as f:
        for name in ("v1", "lgn"):
            g = f.create_group(f"nodes/{name}/0")
            for c, col in zip("xyz", pos.T):
                g[c] = col
    assert np.array_equal(read(tmp_path / "nodes.h5", population="v1"), pos)
    assert np.array_equal(read(tmp_path / "nodes.h5", columns=["x", "z"], population="lgn"), pos[:, [0, 2]])
    with pytest.raises(ValueError, match="several node populations"):
        read(tmp_path / "nodes.h5")


@pytest.mark.parametrize("text, key, words", [
    (POP + proj("kernal = 1"), "projections.p.kernal", ["unknown key"]),
    (POP + proj('kernel = { type = "Gaussian" }'), "projections.p.kernel.sigma", ["missing"]),
    (POP + proj('kernel = { type = "Gaussian", sigma = 0.1, scale = 2 }'), "projections.p.kernel.scale",
     ["unknown key"]),
    (POP + proj('kernel = { type = "Gaussian", sigma = true }'), "projections.p.kernel.sigma", ["True"]),
    (POP + proj('kernel = "Gaussian"'), "projections.p.kernel", ["expected a table", "'Gaussian'"]),
    (POP + proj('mask = { type = "Box", lower = [0, "a"], upper = [1, 1] }'), "projections.p.mask.lower",
     ["list of numbers"]),
    (POP + proj('space = { extent = [[0, 1]] }'), "projections.p.space", ["1 axes"]),
    (POP + proj(rule='{ type = "FixedTotalNumber", n = 5, sources = "random" }'), "projections.p.rule",
     ["'random'"]),
    (POP + proj(rule='{ type = "PairwiseBernoulli", p = 1.5 }'), "projections.p.rule", ["1.5"]),
    (POP + '[populations.b]\npositions = "uniform"\nn = 5\nextent = [[0, 1]]\n'
     + '[projections.p]\nsource = "a"\ntarget = "b"\nrule = { type = "FixedOutDegree", k = 1 }\n',
     "projections.p", ["coordinates"]),
    (POP.replace('"uniform"', '"random"'), "populations.a.positions", ["'random'"]),
    (POP.replace("extent = [[0, 2], [0, 1]]", "extent = [[2, 0]]"), "populations.a", ["low < high"]),
    ('[populations.a]\npositions = "grid"\nshape = [2.5, 2]\nextent = [[0, 1], [0, 1]]\n',
     "populations.a.shape", ["list of integers"]),
    ('[populations.a]\nn = 4\n', "populations.a", ["exactly one of"]),
    ("[projections.p]\nsource = 'a'\n", "populations", ["expected a table"]),
    (POP + "[extra]\nx = 1\n", "extra", ["unknown key"]),
    (POP + "seed = -1\n", "populations.a.seed", ["-1"]),
    ("seed = -1\n" + POP, "seed", ["-1"]),
])
def test_spec_errors_name_the_key(text, key, words):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert info.value.key == key, str(info.value)
    assert str(info.value).startswith(key + ": ")
    for w in words:
        assert w in str(info.value)


def test_infeasible_is_a_spec_error():
    net = parse(POP + proj('mask = { type = "Disc", radius = 0.001 }\nmultapses = false'))
    with pytest.raises(SpecError, match=r"^projections\.p: source \d+ needs k=3 distinct"):
        net.connect("p")


def test_load_missing_and_invalid(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("a = [")
    with pytest.raises(SpecError, match="bad.toml: invalid TOML"):
        load(tmp_path / "bad.toml")


def test_per_driver_degrees_from_a_list():
    ks = [i % 3 for i in range(40)]
    net = parse(POP + proj(rule=f'{{ type = "FixedOutDegree", k = {ks} }}'))
    conn = net.connect("p")
    assert conn.out_degrees().tolist() == ks
    from spatialconn.check import check_projection

    pos = net.populations["a"].positions
    assert check_projection(conn.sources, conn.targets, net.projections["p"], pos, pos).passed
    bad = parse(POP + proj(rule='{ type = "FixedOutDegree", k = [1, 2, 3] }'))
    with pytest.raises(SpecError, match=r"^projections\.p: k has 3 entries but there are 40 sources"):
        bad.connect("p")
