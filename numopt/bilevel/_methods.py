"""Registration of the bilevel methods (generic test table, --list, show_options)."""

from __future__ import annotations

import functools

from .._registry import Example, MethodSpec, Option, register_method
from ._api import DEFAULTS, minimize_bilevel

_SUMMARIES = {
    "implicit": "approximate implicit differentiation: inner steps, implicit system by "
                "CG / Neumann / SGD / a user solver",
    "soba": "SOBA: joint stochastic steps on y, the implicit-system vector and x",
    "saba": "SABA: SOBA with SAGA variance reduction on all five oracles",
    "f2sa": "F2SA: fully first-order, penalty 1/sigma growing linearly",
    "penalty": "penalty method, deterministic double loop (first order, projected x)",
    "penalty_stochastic": "penalty method, single-loop stochastic with STORM momentum",
    "borep": "BO-REP: normalized momentum, lower-level refinement and periodic updates",
    "bsvrb": "BSVRB: multi-block, MSVR block estimates, STORM on the upper level",
}
_REFERENCES = {
    "implicit": "Pedregosa, Hyperparameter optimization with approximate gradient, ICML "
                "2016; Ji, Yang, Liang, Bilevel optimization: convergence analysis and "
                "enhanced design, ICML 2021",
    "soba": "Dagreou, Ablin, Vaiter, Moreau, A framework for bilevel optimization that "
            "enables stochastic and global variance reduction algorithms, NeurIPS 2022",
    "saba": "Dagreou, Ablin, Vaiter, Moreau, NeurIPS 2022",
    "f2sa": "Kwon, Kwon, Wright, Nowak, A fully first-order method for stochastic bilevel "
            "optimization, ICML 2023",
    "penalty": "Kwon, Kwon, Wright, Nowak, On penalty methods for nonconvex bilevel "
               "optimization and first-order stochastic approximation, ICLR 2024",
    "penalty_stochastic": "Kwon, Kwon, Wright, Nowak, ICLR 2024",
    "borep": "Hao, Gong, Liu, Bilevel optimization under unbounded smoothness: a new "
             "algorithm and convergence analysis, ICLR 2024",
    "bsvrb": "Hu, Qiu, Guo, Zhang, Yang, Blockwise stochastic variance-reduced methods with "
             "parallel speedup for multi-block bilevel optimization, ICML 2023",
}
_OPTION_DOCS = {
    "inner_step": "step size of the lower variable (None: 1/L_g)",
    "outer_step": "step size of x (None: 1/L_F where the problem knows it, else 1/L_g)",
    "bounds": "(lower, upper) bounds on x: projected steps, projected-gradient measure",
    "certify_every": "iterations between exact hypergradient checks of the stop",
    "inner_steps": "lower-level (and penalized) gradient steps per outer iteration",
    "inner_solver": "'gd' (inner_steps gradient steps) or 'newton' (dense Hessian: small "
                    "dim_y)",
    "implicit_solver": "'cg', 'direct', 'neumann', 'sgd', a LinearOperator (approximate "
                       "inverse Hessian) or a callable solver(hvp, b, v0) -> v",
    "implicit_maxiter": "iterations (CG, SGD) or terms (Neumann) of the implicit solve",
    "implicit_tol": "relative residual of the CG implicit solve",
    "v0": "start of the implicit-system vector (zeros, or the last one)",
    "z0": "start of the penalized lower variable (y0)",
    "penalty": "final sigma of the penalty function (None: tol within [1e-8, 1e-2])",
    "penalty_start": "F2SA's first sigma",
    "penalty_growth": "F2SA's growth of 1/sigma per iteration (None: final in 100)",
    "inner_tol": "inner gradient norm, relative to sigma, of the double loop",
    "inner_maxiter": "maximum inner gradient steps of the double loop",
    "momentum": "momentum parameter (BO-REP: beta of m <- beta m + (1-beta) g; STORM: "
                "the weight of the fresh estimate)",
    "refine_steps": "BO-REP's initialization refinement: lower steps at x0",
    "period": "BO-REP: iterations between periodic lower updates",
    "period_steps": "BO-REP: lower steps per periodic update",
    "z_step": "BO-REP: step of the implicit-system vector (None: inner_step)",
    "z_radius": "BO-REP: radius of the ball the implicit-system vector is projected on",
    "outer_step_decay": "BO-REP: factor per iteration on the normalized step (1: constant)",
    "blocks_per_iter": "BSVRB: blocks sampled per iteration, I (None: all)",
    "msvr_weight": "BSVRB: the MSVR weight alpha of a fresh block estimate",
    "hessian": "BSVRB: 'matrix' (tracked block Hessians) or 'hvp' (tracked solutions)",
}


def _example(method, xp, dtype):
    import numpy as np

    from ._problem import MultiBlockBilevel
    from ._problems import quadratic_bilevel

    if method == "bsvrb":
        problem = MultiBlockBilevel([quadratic_bilevel(3, 4, n_upper=20, n_lower=30, seed=s)
                                     for s in range(3)])
        # F is the mean of the blocks' quadratics: x* from its closed-form gradient
        grads = [b.value_gradient for b in problem.blocks]
        grad = lambda x: sum(g(x) for g in grads) / len(grads)  # noqa: E731
        Hcols = np.column_stack([grad(e) - grad(np.zeros(3)) for e in np.eye(3)])
        solution = np.linalg.solve(Hcols, -grad(np.zeros(3)))
    else:
        problem = quadratic_bilevel(3, 5, n_upper=20, n_lower=30, seed=1)
        solution = problem.solution()
    single = dtype == xp.float32

    def check(res):
        assert np.max(np.abs(np.asarray(res.x, dtype=float) - solution)) <= \
            (1e-4 if single else 1e-6)

    kwargs = {"tol": 1e-5 if single else 1e-8, "maxiter": 2000, "seed": 0}
    if method == "borep":
        kwargs["outer_step_decay"] = 0.97
    return Example(args=(problem, xp.zeros(3, dtype=dtype)), kwargs=kwargs,
                   arg_names=("problem", "x0"), array_args=(1,), check=check,
                   dtype_fields=("x", "y"))


for _name in DEFAULTS:
    register_method(MethodSpec(
        solver="minimize_bilevel", name=_name,
        func=functools.partial(minimize_bilevel, method=_name),
        problem_class="bilevel", summary=_SUMMARIES[_name],
        options={k: Option(v, _OPTION_DOCS[k]) for k, v in DEFAULTS[_name].items()},
        example=functools.partial(_example, _name), reference=_REFERENCES[_name],
        namespaces=("numpy",), has_kernels=_name == "saba"))
