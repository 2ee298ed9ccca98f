"""Demo rows for ``python -m numopt``: the Policeman-Burglar game against HiGHS."""

from __future__ import annotations

import time

from .._backend import to_numpy
from .._demo import DemoRow, register_demo
from ..problems._monotone import policeman_burglar_matrix
from ._api import solve_matrix_game
from ._operators import spectral_norm


def _lp_value(A):
    import numpy as np
    from scipy.optimize import linprog

    m, n = A.shape
    out = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * m + [(None, None)], method="highs")
    return -out.fun


@register_demo("monotone", "Policeman-Burglar game, n=100, extragradient to gap 1e-4")
def _demo_game(xp):
    A = policeman_burglar_matrix(100, seed=1)
    # the authors' step 5/L: at n = 50 the theory's 0.5/L took 54000 iterations, 5/L 395
    step = 5.0 / spectral_norm(A)
    start = time.perf_counter()
    res = solve_matrix_game(xp.asarray(A), method="extragradient", tol=1e-4, maxiter=20000,
                            step_size=step)
    seconds = time.perf_counter() - start
    return DemoRow(method="solve_matrix_game(extragradient)", size="100x100", nit=res.nit,
                   error=abs(res.value - _lp_value(to_numpy(A))),
                   reference="game value by HiGHS linprog", success=res.success,
                   seconds=seconds)
