"""Registration of the zeroth-order methods with the registry and the generic table."""

from __future__ import annotations

import numpy as np

from .._registry import Example, MethodSpec, Option, register_method
from ._minimize import minimize_ranksgd, minimize_zo_sgd

_MEZO = ("Malladi, Gao, Nichani, Damian, Lee, Chen & Arora, Fine-Tuning Language Models "
         "with Just Forward Passes (NeurIPS 2023); Spall (1992), SPSA")
_RANK = ("Tang, Rybin & Chang, Zeroth-Order Optimization Meets Human Feedback: Provable "
         "Learning via Ranking Oracles (ICLR 2024)")


def _quadratic_example(method_options):
    """``f(x) = (x - c)^T H (x - c) / 2`` in 6 variables (minimum 0 at ``c``, so that
    the float32 central differences of the success measure are not swamped by ``f``)."""
    def example(xp, dtype):
        from ..testing import assert_allclose

        rng = np.random.default_rng(5)
        M = rng.standard_normal((6, 6))
        H = M @ M.T / 12 + np.eye(6)
        c = rng.standard_normal(6)
        Hx, cx = xp.asarray(H, dtype=dtype), xp.asarray(c, dtype=dtype)

        def fun(x):
            r = x - cx
            return 0.5 * xp.sum(r * (Hx @ r))

        single = dtype == xp.float32

        def check(res):
            # strong convexity 1: |x - c| <= |grad| <= sqrt(6) gtol
            tol = 1e-2 if single else 1e-5
            assert_allclose(res.x, xp.asarray(c, dtype=dtype), rtol=0, atol=tol)

        return Example(args=(fun, xp.zeros(6, dtype=dtype)),
                       kwargs={"tol": 1e-3 if single else 1e-6, **method_options},
                       arg_names=("fun", "x0"), array_args=(1,), check=check,
                       rtol=1e-4)
    return example


_COMMON_OPTIONS = {
    "gtol": Option(1e-5, "success when every central-difference gradient entry is <= gtol "
                         "(tol overrides)"),
    "measure_every": Option(None, "iterations between two measurements of 2 d + 1 "
                                  "evaluations (None: their cost about doubles the "
                                  "steps'; 0: never)"),
    "maxiter": Option(10_000, "maximum number of iterations"),
    "n_samples": Option(None, "finite sum of N samples: fun(x, batch) takes an index "
                              "batch"),
    "batch_size": Option(None, "samples per iteration (None: all)"),
    "seed": Option(0, "seed of the perturbations and batches"),
    "check_every": Option(None, "iterations between two checks"),
}

_ZO_SGD_OPTIONS = {
    "lr": Option(1e-3, "learning rate"),
    "eps": Option(1e-3, "perturbation size (MeZO's epsilon)"),
    "n_directions": Option(1, "directions (or coordinates) per iteration"),
    "estimator": Option("gaussian", "'gaussian', 'rademacher' (two-point SPSA) or "
                                    "'coordinate'"),
    "sparsity": Option(1.0, "fraction of coordinates each direction perturbs"),
    "inplace": Option(False, "MeZO's in-place evaluations: fun gets x itself, moved to "
                             "x +- eps z (it must not keep or change it)"),
    **_COMMON_OPTIONS,
}

for _name in ("zo-sgd", "mezo"):
    register_method(MethodSpec(
        solver="minimize", name=_name, func=minimize_zo_sgd, problem_class="zeroth_order",
        summary="zeroth-order SGD: two-point SPSA estimates with seeded perturbations "
                "regenerated, never stored (MeZO), sparse or coordinate-wise; needs fun "
                "only" + (" (alias of zo-sgd)" if _name == "mezo" else ""),
        options=_ZO_SGD_OPTIONS, has_kernels=True, reference=_MEZO,
        # the alias runs the same function: one set of generic-table rows is enough
        example=None if _name == "mezo" else _quadratic_example({"lr": 0.1,
                                                                   "maxiter": 5000}),
    ))

register_method(MethodSpec(
    solver="minimize", name="zo-ranksgd", func=minimize_ranksgd,
    problem_class="zeroth_order",
    summary="ZO-RankSGD: rank-based estimates over an (m, k) ranking graph and a ranked "
            "line search; ranks by fun or by a user ranking oracle",
    options={"lr": Option(1.0, "longest line-search step"),
             "smoothing": Option(1e-2, "query radius mu"),
             "n_queries": Option(10, "m, points ranked per estimate"),
             "top_k": Option(5, "k, how many of them the oracle orders"),
             "n_steps": Option(5, "line-search points lr shrink^j, j < n_steps"),
             "shrink": Option(0.5, "ratio of the line-search steps"),
             "adapt": Option(True, "scale lr and mu by the line search's outcome (False: "
                                   "the paper's fixed values)"),
             "ranking": Option(None, "ranking(points) -> indices best first (None: rank "
                                     "by fun)"),
             **_COMMON_OPTIONS},
    has_kernels=True, reference=_RANK,
    example=_quadratic_example({"n_queries": 6, "top_k": 3, "n_steps": 3,
                                "maxiter": 3000}),
))
