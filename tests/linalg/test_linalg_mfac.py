"""M-FAC inverse-Hessian-vector products against the dense damped inverse."""

import numpy as np
import pytest

from numopt.linalg import MFACInverseHessian, mfac_ihvp


def _dense_inverse_times(G, v, damping):
    m, d = G.shape
    return np.linalg.solve(damping * np.eye(d) + G.T @ G / m, v)


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# gradient scales chosen so that the dense solve itself is accurate to ~1e-13: the
# condition number of lambda I + G^T G / m stays below ~1e3 with lambda = 1e-5
@pytest.mark.parametrize("m, d, scale", [(8, 60, 1e-3), (20, 60, 0.03), (40, 25, 0.01),
                                         (1, 30, 0.05)])
def test_products_match_dense_damped_inverse(m, d, scale):
    rng = np.random.default_rng(m + d)
    G = scale * rng.standard_normal((m, d))
    v = rng.standard_normal(d)
    H = MFACInverseHessian(G)                     # damping 1e-5 by default
    expected = _dense_inverse_times(G, v, 1e-5)
    assert _relative(H.matvec(v), expected) < 1e-10
    assert _relative(H @ v, expected) < 1e-10
    assert _relative(mfac_ihvp(G, v), expected) < 1e-10
    # several right-hand sides at once
    V = rng.standard_normal((d, 3))
    assert _relative(H.matvec(V), _dense_inverse_times(G, V, 1e-5)) < 1e-10


def test_vector_in_the_window_span():
    # v = a gradient of the window: its component is shrunk, not amplified by 1/lambda
    rng = np.random.default_rng(1)
    G = 0.02 * rng.standard_normal((10, 40))
    v = G[3].copy()
    expected = _dense_inverse_times(G, v, 1e-5)
    assert _relative(MFACInverseHessian(G).matvec(v), expected) < 1e-10


def test_sliding_window_updates_match_recomputation():
    rng = np.random.default_rng(2)
    m, d, damping = 6, 35, 1e-4
    stream = 0.05 * rng.standard_normal((15, d))
    H = MFACInverseHessian.zeros(m, d, damping)
    assert np.array_equal(H.matvec(np.ones(d)), np.ones(d) / damping)
    v = rng.standard_normal(d)
    for t, g in enumerate(stream):
        H.update(g)
        window = stream[max(0, t - m + 1):t + 1]
        # the rows not yet filled are zeros: they add nothing to G^T G, but m stays m
        padded = np.vstack([window, np.zeros((m - len(window), d))])
        expected = _dense_inverse_times(padded, v, damping)
        assert _relative(H.matvec(v), expected) < 1e-10, t
        fresh = MFACInverseHessian(padded, damping)
        assert _relative(H.matvec(v), fresh.matvec(v)) < 1e-10, t
        # the Gram matrix kept up to date row by row equals the one formed afresh
        np.testing.assert_allclose(H.gram, H.G @ H.G.T, rtol=1e-12, atol=1e-15)


def test_update_matvec_is_update_then_matvec():
    rng = np.random.default_rng(3)
    G = 0.1 * rng.standard_normal((5, 20))
    g = rng.standard_normal(20)
    a, b = MFACInverseHessian(G, 1e-3), MFACInverseHessian(G, 1e-3)
    a.update(g)
    assert _relative(b.update_matvec(g), a.matvec(g)) < 1e-12
    assert a.oldest == b.oldest == 1


def test_float32_window_keeps_its_dtype():
    rng = np.random.default_rng(4)
    G = (0.05 * rng.standard_normal((8, 40))).astype(np.float32)
    v = rng.standard_normal(40).astype(np.float32)
    H = MFACInverseHessian(G, 1e-3)
    out = H.matvec(v)
    assert out.dtype == np.float32
    expected = _dense_inverse_times(G.astype(np.float64), v.astype(np.float64), 1e-3)
    assert _relative(out.astype(np.float64), expected) < 1e-4


def test_copy_false_updates_the_callers_buffer():
    G = np.zeros((3, 10))
    H = MFACInverseHessian(G, copy=False)
    H.update(np.ones(10))
    assert np.array_equal(G[0], np.ones(10))
    G2 = np.zeros((3, 10))
    MFACInverseHessian(G2).update(np.ones(10))
    assert not G2.any()


def test_array_api_strict_namespace():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(5)
    G = 0.02 * rng.standard_normal((6, 30))
    v = rng.standard_normal(30)
    H = MFACInverseHessian(xps.asarray(G))
    H.update(xps.asarray(G[0] * 2))
    out = H.matvec(xps.asarray(v))
    assert type(out) is type(xps.asarray(v))
    G[0] *= 2
    assert _relative(np.asarray(out), _dense_inverse_times(G, v, 1e-5)) < 1e-10


def test_bad_input_names_the_argument():
    G = np.ones((3, 10))
    with pytest.raises(ValueError, match="damping"):
        MFACInverseHessian(G, damping=0.0)
    with pytest.raises(TypeError, match="damping"):
        MFACInverseHessian(G, damping="big")
    with pytest.raises(ValueError, match="gradients"):
        MFACInverseHessian(np.ones(10))
    with pytest.raises(ValueError, match="gradients"):
        MFACInverseHessian(np.full((3, 10), np.nan))
    H = MFACInverseHessian(G)
    with pytest.raises(ValueError, match=r"\bv\b"):
        H.matvec(np.ones(9))
    with pytest.raises(ValueError, match=r"\bv\b"):
        H.matvec(np.array([np.inf] * 10))
    with pytest.raises(ValueError, match=r"\bg\b"):
        H.update(np.ones(11))
    with pytest.raises(ValueError, match=r"\bg\b"):
        H.update(np.ones((10, 2)))
