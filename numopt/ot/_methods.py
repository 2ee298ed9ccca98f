"""Registry entries (and generic-table examples) for the OT solvers."""

from __future__ import annotations

import numpy as np

from .._registry import Example, MethodSpec, register_method
from . import _api


def _problem(xp, dtype, n=24, m=18):
    from ..problems._ot import random_ot_problem

    return random_ot_problem(n, m, weights="random", xp=xp, dtype=dtype)


def _to_numpy(x):
    from .._backend import to_numpy

    return np.asarray(to_numpy(x), dtype=np.float64)


def _sinkhorn_example(method, reg):
    def example(xp, dtype):
        a, b, M = _problem(xp, dtype)
        f32 = dtype == xp.float32
        tol = 1e-5 if f32 else 1e-10

        def check(res):
            import ot

            P = ot.sinkhorn(_to_numpy(a), _to_numpy(b), _to_numpy(M), reg, stopThr=1e-14,
                            numItermax=100000)
            plan = _to_numpy(res.plan)
            assert np.abs(plan - P).max() <= (1e-5 if f32 else 1e-9), np.abs(plan - P).max()
            assert res.marginal_error <= 2 * tol

        return Example(args=(a, b, M, reg), kwargs={"method": method, "tol": tol},
                       arg_names=("a", "b", "M", "reg"), array_args=(0, 1, 2), check=check,
                       rtol=1e-4 if f32 else 1e-7, compare_fields=("x", "f", "g"),
                       dtype_fields=("x", "plan", "f", "g"))
    return example


def _emd_example(xp, dtype):
    a, b, M = _problem(xp, dtype)

    def check(res):
        import ot

        P = ot.emd(_to_numpy(a), _to_numpy(b), _to_numpy(M))
        assert abs(res.cost - float(np.sum(P * _to_numpy(M)))) <= 1e-6
        assert res.plan.nnz <= sum(M.shape) - 1 and (res.plan.data >= 0).all()

    return Example(args=(a, b, M), arg_names=("a", "b", "M"), array_args=(0, 1, 2),
                   check=check, dtype_fields=("x", "f", "g"))


def _sparse_example(formulation, quadratic=False):
    def example(xp, dtype):
        from ..problems._ot import random_ot_problem

        # uniform weights: the sparsity-constrained dual has a duality gap, and the
        # k-sparse rounding can fail for some random weights (documented)
        a, b, M = (_problem(xp, dtype) if quadratic
                   else random_ot_problem(24, 18, weights="uniform", xp=xp, dtype=dtype))
        gamma = 0.5

        def check(res):
            import ot

            assert res.marginal_error <= 1e-6
            if quadratic:
                P = ot.smooth.smooth_ot_dual(_to_numpy(a), _to_numpy(b), _to_numpy(M), gamma,
                                             reg_type="l2", stopThr=1e-12, numItermax=10000)
                assert np.abs(res.plan.toarray() - P).max() <= 1e-4
            else:
                assert res.max_nnz_per_column <= 3

        if quadratic:
            return Example(args=(a, b, M, gamma), kwargs={"formulation": formulation},
                           arg_names=("a", "b", "M", "gamma"), array_args=(0, 1, 2),
                           check=check, dtype_fields=("x", "f", "g"))
        return Example(args=(a, b, M, 3), kwargs={"formulation": formulation, "gamma": gamma},
                       arg_names=("a", "b", "M", "k"), array_args=(0, 1, 2), check=check,
                       dtype_fields=("x", "f", "g"))
    return example


for _method, _reg, _summary, _ns in (
        ("kernel", 0.05, "Sinkhorn scaling iterations on the Gibbs kernel (fused one-pass kernel)",
         ("numpy", "array_api_strict", "cupy")),
        ("log", 0.05, "log-domain Sinkhorn with fused log-sum-exp passes and epsilon scaling",
         ("numpy", "array_api_strict", "cupy")),
        ("auto", 0.05, "kernel or log Sinkhorn, chosen from the underflow risk of exp(-M/reg)",
         ("numpy", "array_api_strict", "cupy")),
        ("sns", 0.01, "Sinkhorn-Newton-Sparse: Sinkhorn warm-up, then sparse-Hessian Newton",
         ("numpy",))):
    register_method(MethodSpec(
        solver="sinkhorn", name=_method, func=_api.sinkhorn, problem_class="ot",
        summary=_summary, options=_api.SINKHORN_OPTIONS[_method],
        example=_sinkhorn_example(_method, _reg), has_kernels=True, namespaces=_ns,
        reference=("Tang et al., Accelerating Sinkhorn algorithm with sparse Newton "
                   "iterations, ICLR 2024" if _method == "sns" else
                   "Cuturi, Sinkhorn distances, NeurIPS 2013; Schmitzer, Stabilized sparse "
                   "scaling algorithms for entropy regularized transport problems, 2019")))

register_method(MethodSpec(
    solver="emd", name="network_simplex", func=_api.emd, problem_class="ot",
    summary="exact OT by the network simplex (block search, strongly feasible trees)",
    example=_emd_example, supports_callback=False, namespaces=("numpy",),
    reference="Kovacs, Minimum-cost flow algorithms: an experimental evaluation, 2015 "
              "(LEMON); Cunningham, A network simplex method, 1976"))

for _form in ("semi_dual", "dual"):
    register_method(MethodSpec(
        solver="sparse_ot", name=_form, func=_api.sparse_ot, problem_class="ot",
        summary=f"sparsity-constrained OT through the smoothed {_form.replace('_', '-')} "
                "and L-BFGS, rounded to a feasible k-sparse plan",
        options=_api.SPARSE_OT_OPTIONS,
        example=_sparse_example(_form), namespaces=("numpy",),
        reference="Liu, Puigcerver, Blondel, Sparsity-constrained optimal transport, ICLR 2023"))

register_method(MethodSpec(
    solver="quadratic_ot", name="dual", func=_api.quadratic_ot, problem_class="ot",
    summary="quadratically regularized OT through the dual and L-BFGS",
    options=_api.QUADRATIC_OT_OPTIONS,
    example=_sparse_example("dual", quadratic=True), namespaces=("numpy",),
    reference="Blondel, Seguy, Rolet, Smooth and sparse optimal transport, AISTATS 2018"))
