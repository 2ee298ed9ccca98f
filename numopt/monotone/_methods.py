"""Registration of the monotone-inclusion methods (generic test table, --list,
show_options)."""

from __future__ import annotations

import functools

from .._registry import Example, MethodSpec, Option, register_method
from ._api import DEFAULTS, METHODS, solve_inclusion, solve_matrix_game
from ._variance_reduced import VR_SOLVERS

_CAI = ("Cai, Alacaoglu, Diakonikolas, Variance Reduced Halpern Iteration for Finite-Sum "
        "Monotone Inclusions, ICLR 2024")
_SUMMARIES = {
    "halpern": "Halpern iteration on the forward-backward map (cocoercive F)",
    "extragradient": "extragradient (projected, constant step)",
    "eag": "extra anchored gradient, constant step (EAG-C)",
    "fbf": "Tseng's forward-backward-forward splitting",
    "optimistic": "optimistic gradient in optax's form",
    "vr-eg": "loopless variance-reduced extragradient",
    "vr-halpern": "Algorithm 1: Halpern with a PAGE-type estimator (cocoercive F)",
    "inexact-halpern": "Algorithm 2: inexact Halpern, VR-FoRB resolvent (monotone F)",
}
_REFERENCES = {
    "halpern": "Diakonikolas, Halpern iteration for near-optimal and parameter-free "
               "monotone inclusion, COLT 2020",
    "extragradient": "Korpelevich, The extragradient method for finding saddle points, 1976",
    "eag": "Yoon, Ryu, Accelerated algorithms for smooth convex-concave minimax problems "
           "with O(1/k^2) rate on squared gradient norm, ICML 2021",
    "fbf": "Tseng, A modified forward-backward splitting method for maximal monotone "
           "mappings, SICON 2000",
    "optimistic": "Mokhtari, Ozdaglar, Pattathil, AISTATS 2020 (optax."
                  "optimistic_gradient_descent)",
    "vr-eg": "Alacaoglu, Malitsky, Stochastic variance reduction for variational "
             "inequality methods, COLT 2022",
    "vr-halpern": _CAI,
    "inexact-halpern": _CAI,
}
_OPTION_DOCS = {
    "step_size": "the step (None: the method's default, set from operator.lipschitz and "
                 "operator.mean_square_lipschitz)",
    "alpha": "optax's alpha: weight of the current operator value",
    "beta": "optax's beta: weight of the negative momentum on the previous value",
    "p": "probability of a new snapshot (full evaluation) per step (None: 1/n)",
    "batch_size": "samples per estimator correction (None: ceil(sqrt(n)))",
    "resolvent_step": "c of the resolvent (I + c(F+G))^{-1} (None: sqrt(n)/L_Q)",
    "inner": "M_k = ceil(inner * n * log(k+2)) VR-FoRB steps per Halpern step",
}
COCOERCIVE = ("halpern", "vr-halpern")
# the anchored methods converge at O(1/k) even on a strongly monotone problem
ANCHORED = ("halpern", "eag", "vr-halpern", "inexact-halpern")


def _example(method, xp, dtype):
    import numpy as np

    from ._operators import matrix_operator
    from ._prox import box

    rng = np.random.default_rng(3)
    d = 8
    B = rng.standard_normal((d, d)) / np.sqrt(d)
    M = B.T @ B + 0.5 * np.eye(d)          # cocoercive (symmetric positive definite)
    if method not in COCOERCIVE:           # a skew part keeps it monotone, not cocoercive
        S = rng.standard_normal((d, d)) / np.sqrt(d)
        M = M + (S - S.T)
    q = rng.standard_normal(d)
    op = matrix_operator(xp.asarray(M, dtype=dtype), xp.asarray(q, dtype=dtype),
                         n_components=4)
    lo, hi = -0.5, 0.5
    single = dtype == xp.float32
    # loose enough to keep the table fast (the anchored methods' rates are tested in
    # tests/monotone), tight enough to fail a solver that stops short: the check's
    # bound 5 tol is a quarter of the distance from z0 to the solution (1.21)
    tol = 6e-2 if method in ANCHORED else (1e-4 if single else 1e-8)

    def check(res):
        # the variational inequality's solution, by the projected fixed point of a
        # small step run to machine precision in float64
        z = np.zeros(d)
        for _ in range(20000):
            z = np.clip(z - 0.05 * (M @ z + q), lo, hi)
        got = np.asarray(res.x, dtype=np.float64) if not hasattr(res.x, "get") else \
            res.x.get().astype(np.float64)
        # M's symmetric part is at least I/2 and the residual r certifies the
        # forward-backward point within r / L, which lies within 2 r / (1/2) of z*
        assert np.linalg.norm(got - z) <= 5.0 * tol + 1e-6, (got, z)

    return Example(args=(op, xp.zeros(d, dtype=dtype)),
                   kwargs={"prox": box(lo, hi), "method": method,
                           "tol": tol, "seed": 0, "maxiter": 20000},
                   arg_names=("operator", "z0"), array_args=(1,), check=check,
                   rtol=1e-4 if single else 1e-9)


def _game_example(xp, dtype):
    import numpy as np

    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 4))
    single = dtype == xp.float32

    def check(res):
        from scipy.optimize import linprog

        m, n = A.shape
        # max v s.t. A^T x >= v, sum x = 1, x >= 0
        out = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)],
                      b_ub=np.zeros(n), A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                      bounds=[(0, None)] * m + [(None, None)], method="highs")
        assert abs(res.value - (-out.fun)) <= (1e-3 if single else 1e-5)

    return Example(args=(xp.asarray(A, dtype=dtype),),
                   kwargs={"tol": 1e-4 if single else 1e-5, "maxiter": 100000},
                   arg_names=("A",), array_args=(0,), shape_free=(0,), check=check,
                   rtol=1e-4 if single else 1e-7)


for _name in METHODS:
    register_method(MethodSpec(
        solver="solve_inclusion", name=_name,
        func=functools.partial(solve_inclusion),
        problem_class="monotone", summary=_SUMMARIES[_name],
        options={k: Option(v, _OPTION_DOCS[k]) for k, v in DEFAULTS[_name].items()},
        example=functools.partial(_example, _name),
        has_kernels=_name in VR_SOLVERS, reference=_REFERENCES[_name],
        namespaces=("numpy",) if _name in VR_SOLVERS else ("numpy", "array_api_strict",
                                                            "cupy")))

register_method(MethodSpec(
    solver="solve_matrix_game", name="extragradient", func=solve_matrix_game,
    problem_class="monotone",
    summary="zero-sum matrix game; success iff the pair's duality gap <= tol",
    options={k: Option(v, _OPTION_DOCS[k]) for k, v in DEFAULTS["extragradient"].items()},
    example=_game_example, reference=_REFERENCES["extragradient"],
    namespaces=("numpy", "array_api_strict", "cupy")))
