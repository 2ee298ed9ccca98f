"""Registry entries (and their small oracle-checked examples) for numopt.stochastic."""

from __future__ import annotations

from .._registry import Example, MethodSpec, Option, register_method
from ._api import (ADABELIEF_DEFAULTS, ADADAGRAD_DEFAULTS, ADAHESSIAN_DEFAULTS,
                   DIFFGRAD_DEFAULTS, minimize_adabelief, minimize_adadagrad,
                   minimize_adadagradnorm, minimize_adahessian, minimize_diffgrad)
from ._validation import COMMON_DEFAULTS

__all__ = []


def _example(options):
    def example(xp, dtype):
        from ..testing import assert_allclose

        from ..problems import interpolating_least_squares

        fun, jac, hessp, _, _, x_star = interpolating_least_squares(xp, dtype)
        single = dtype == xp.float32

        def check(res):
            tol = 5e-3 if single else 5e-5
            assert_allclose(res.x, xp.asarray(x_star, dtype=dtype), rtol=tol, atol=tol)
            assert res.nsamples > 0 and res.njev > 0

        kwargs = {"jac": jac, "tol": 1e-3 if single else 1e-5, "n_samples": 60,
                  "batch_size": 8, "maxiter": 20_000, "seed": 0,
                  **{k: v for k, v in options.items() if k != "hessp"}}
        if "hessp" in options:
            kwargs["hessp"] = hessp
        return Example(args=(fun, xp.zeros(8, dtype=dtype)), kwargs=kwargs,
                       arg_names=("fun", "x0"), array_args=(1,), check=check,
                       rtol=1e-3 if single else 1e-8)
    return example


_COMMON = {
    "n_samples": Option(None, "number of samples N of the finite sum; None: fun, jac and "
                              "hessp are deterministic (SciPy's signatures)"),
    "batch_size": Option(None, "samples per step (None: min(32, N))"),
    "seed": Option(COMMON_DEFAULTS["seed"], "seed of the batches and random probes"),
    "maxiter": Option(COMMON_DEFAULTS["maxiter"], "maximum number of steps"),
    "gtol": Option(COMMON_DEFAULTS["gtol"], "stop when max |grad F(x)| <= gtol, F the full "
                                            "sum (tol overrides)"),
    "check_every": Option(None, "steps between two checks, each a full gradient (None: "
                                "one epoch, ceil(N / batch_size); 1 when deterministic)"),
}
_MOMENTS = {
    "beta1": Option(0.9, "decay of the first moment"),
    "beta2": Option(0.999, "decay of the second moment"),
}

_STOCHASTIC_NAMESPACES = ("numpy", "array_api_strict", "cupy")

register_method(MethodSpec(
    solver="minimize", name="adabelief", func=minimize_adabelief, problem_class="stochastic",
    summary="AdaBelief: Adam with the belief (g - m)^2 as second moment; rectified "
            "(official) or not (torch-optimizer, optax)",
    options={"lr": Option(ADABELIEF_DEFAULTS["lr"], "learning rate"), **_MOMENTS,
             "eps": Option(1e-16, "added to the belief at every step and to its root"),
             "rectify": Option(True, "RAdam's rectification (the official variant)"),
             "degenerated_to_sgd": Option(True, "before rectification applies, SGD with "
                                                "momentum (False: no step)"),
             **_COMMON},
    example=_example({"lr": 0.05}), has_kernels=True,
    reference="Zhuang et al., AdaBelief Optimizer, NeurIPS 2020",
    namespaces=_STOCHASTIC_NAMESPACES, uses=("jac",),
))

register_method(MethodSpec(
    solver="minimize", name="diffgrad", func=minimize_diffgrad, problem_class="stochastic",
    summary="diffGrad: Adam scaled entry-wise by sigmoid(|g_prev - g|)",
    options={"lr": Option(DIFFGRAD_DEFAULTS["lr"], "learning rate"), **_MOMENTS,
             "eps": Option(1e-8, "added to sqrt(v)"), **_COMMON},
    example=_example({"lr": 0.05}), has_kernels=True,
    reference="Dubey et al., diffGrad: An Optimization Method for Convolutional Neural "
              "Networks, IEEE TNNLS 31 (2020)",
    namespaces=_STOCHASTIC_NAMESPACES, uses=("jac",),
))

register_method(MethodSpec(
    solver="minimize", name="adahessian", func=minimize_adahessian,
    problem_class="stochastic",
    summary="AdaHessian: Adam with a Hutchinson Hessian diagonal (Rademacher probes, "
            "spatial averaging, RMS moving average, hessian_power)",
    options={"lr": Option(ADAHESSIAN_DEFAULTS["lr"], "learning rate"), **_MOMENTS,
             "eps": Option(1e-4, "added to the denominator"),
             "hessian_power": Option(1.0, "k in (v / bc2)^(k/2) (torch-optimizer: 0.5)"),
             "block_size": Option(1, "spatial averaging block (1: none)"),
             "n_hutchinson": Option(1, "Rademacher probes per step"), **_COMMON},
    example=_example({"lr": 0.3, "hessp": True}), has_kernels=True,
    reference="Yao et al., ADAHESSIAN: An Adaptive Second Order Optimizer for Machine "
              "Learning, AAAI 2021",
    namespaces=_STOCHASTIC_NAMESPACES, uses=("jac", "hess", "hessp"),
))

_ADADAGRAD_OPTIONS = {
    "lr": Option(ADADAGRAD_DEFAULTS["lr"], "learning rate"),
    "eps": Option(ADADAGRAD_DEFAULTS["eps"], "added to the root of the accumulator"),
    "initial_accumulator": Option(0.0, "starting value of the accumulator"),
    "test": Option("norm", "'norm' (norm test) or 'inner_product' (augmented inner-product "
                           "test)"),
    "eta": Option(0.9, "norm test constant"),
    "theta": Option(0.9, "inner-product test constant"),
    "nu": Option(5.84, "orthogonality test constant"),
    "max_batch_size": Option(None, "largest batch (None: n_samples)"),
    "variance_groups": Option(None, "None: per-sample test statistics; K: from K group "
                                    "gradients"),
    **_COMMON,
    "batch_size": Option(None, "first batch size (None: min(8, N))"),
}
_ADADAGRAD_REFERENCE = ("Lau, Liu & Kolar, AdAdaGrad: Adaptive Batch Size Schemes for "
                        "Adaptive Gradient Methods, 2024")

register_method(MethodSpec(
    solver="minimize", name="adadagrad", func=minimize_adadagrad,
    problem_class="stochastic",
    summary="AdAdaGrad: coordinate-wise AdaGrad with batch sizes from the norm or the "
            "augmented inner-product test",
    options=_ADADAGRAD_OPTIONS, example=_example({"lr": 0.5, "variance_groups": 4}),
    has_kernels=True, reference=_ADADAGRAD_REFERENCE,
    namespaces=_STOCHASTIC_NAMESPACES, uses=("jac",),
))

register_method(MethodSpec(
    solver="minimize", name="adadagradnorm", func=minimize_adadagradnorm,
    problem_class="stochastic",
    summary="AdAdaGradNorm: AdaGrad-Norm with batch sizes from the norm or the augmented "
            "inner-product test",
    options=_ADADAGRAD_OPTIONS,
    example=_example({"lr": 1.0, "test": "inner_product"}),
    reference=_ADADAGRAD_REFERENCE, namespaces=_STOCHASTIC_NAMESPACES, uses=("jac",),
))
