"""Registration of the completion methods (generic test table, --list, show_options)."""

from __future__ import annotations

import functools

from .._registry import Example, MethodSpec, Option, register_method
from ._api import DEFAULTS, complete

_SUMMARIES = {
    "altmin": "robust alternating minimization, sketch-preconditioned CG per row",
    "als": "exact alternating least squares (per-row k x k normal equations)",
    "softimpute": "SoftImpute: nuclear-norm shrinkage, sparse plus low-rank products",
}
_REFERENCES = {
    "altmin": "Gu, Song, Yin, Zhang, Low Rank Matrix Completion via Robust Alternating "
              "Minimization in Nearly Linear Time, ICLR 2024",
    "als": "Jain, Netrapalli, Sanghavi, Low-rank matrix completion using alternating "
           "minimization, STOC 2013",
    "softimpute": "Mazumder, Hastie, Tibshirani, Spectral regularization algorithms for "
                  "learning large incomplete matrices, JMLR 2010",
}
_OPTION_DOCS = {
    "row_solver": "per-row solve: 'sketched', 'exact' or 'auto' (sketched from rank 32 on)",
    "sketch_factor": "CountSketch rows per unit of rank (sketch size = sketch_factor * k)",
    "inner_tol": "relative decrease of the preconditioned gradient per inner CG solve",
    "max_inner": "maximum CG steps per row and half-iteration",
    "clip": "zero rows of the initial U with norm above clip * sqrt(k / m) (None: off)",
    "sample_splits": "number of disjoint observation subsets used in turn (1: off)",
    "reg": "ridge penalty on each row's least-squares problem",
    "shrinkage": "nuclear-norm weight lambda (None: sigma_max(P_Omega(M)) / 50, "
                 "fancyimpute's default)",
    "shrinkage_decay": "factor per iteration of the warm-start path from sigma_max down to "
                       "lambda (0: start at lambda)",
}


def _example(method, xp, dtype):
    import numpy as np

    from .._backend import to_numpy
    from ..problems._completion import random_low_rank_completion
    from ..testing import assert_allclose

    prob = random_low_rank_completion(40, 30, rank=3, rate=0.5, seed=1)
    M = prob.dense_with_nan()

    def check(res):
        tol = 1e-3 if dtype == xp.float32 else 1e-6
        U, V = (to_numpy(a).astype(np.float64) for a in (res.U, res.V))
        completed = U @ V.T
        assert_allclose(completed, prob.dense(), atol=tol * np.abs(prob.dense()).max())

    single = dtype == xp.float32
    kwargs = {"tol": 1e-4 if single else 1e-12, "seed": 0}
    if method == "altmin":
        kwargs["row_solver"] = "sketched"   # at rank 3 "auto" would solve the rows exactly
    if method == "softimpute":
        kwargs["shrinkage"] = 0.0   # the default shrinkage biases the fit; 0 interpolates
        if single:   # a fixed-point residual of 1e-4 can leave 1e-3 errors (slow steps)
            kwargs["tol"] = 1e-5
    return Example(args=(xp.asarray(M, dtype=dtype), 3), kwargs=kwargs,
                   arg_names=("M", "rank"),
                   # NaN marks a missing entry in a dense M (only inf is bad input), and
                   # a matrix with a row less is a smaller problem, not a shape error
                   array_args=(0,), nan_allowed=(0,), shape_free=(0,),
                   check=check, rtol=1e-3 if single else 1e-6,
                   compare_fields=("x", "V"), dtype_fields=("x", "U", "V"))


for _name in ("altmin", "als", "softimpute"):
    register_method(MethodSpec(
        solver="complete", name=_name,
        func=functools.partial(complete, method=_name),
        problem_class="completion", summary=_SUMMARIES[_name],
        options={k: Option(v, _OPTION_DOCS[k]) for k, v in DEFAULTS[_name].items()},
        example=functools.partial(_example, _name),
        has_kernels=True, reference=_REFERENCES[_name], namespaces=("numpy",)))
