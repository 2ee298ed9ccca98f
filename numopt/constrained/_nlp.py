"""The equality-constrained problem ``min f(x) s.t. c(x) = 0`` as the solver sees it:
values, gradients, the stacked constraint Jacobian and the Lagrangian Hessian, with
evaluation counters, shape checks and NaN reports naming the user function."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse

from .._validation import _is_sparse, is_linear_operator
from ._validation import UserFunctionError, checked_matrix, checked_vector

__all__ = ["EqualityNLP", "LagrangianHessian"]


class _Counts:
    """Evaluation counters (mutable: the solver object itself never changes)."""

    def __init__(self):
        self.nhev = self.constr_nfev = self.constr_njev = self.constr_nhev = 0


class EqualityNLP:
    """``f`` (through SciPy's ScalarFunction, ``objective``), the constraint blocks
    (:func:`~numopt.constrained._validation.equality_blocks`) and the Hessian sources:
    ``hess(x)`` (matrix, sparse or LinearOperator), ``hessp(x, p)``, or neither (then
    the Lagrangian Hessian acts by finite differences of its gradient)."""

    def __init__(self, objective, blocks, n, *, hess=None, hessp=None, args=()):
        self.objective, self.blocks, self.n = objective, blocks, n
        self.hess, self.hessp, self.args = hess, hessp, args
        self.counts = _Counts()
        self.sizes = None  # rows per block, fixed by the first evaluation

    # -- first order -------------------------------------------------------------------
    def fun_and_grad(self, x):
        f, g = self.objective.fun_and_grad(np.array(x))
        if not math.isfinite(float(f)):
            raise UserFunctionError("fun")
        return float(f), checked_vector(g, "jac", (self.n,))

    def constraints(self, x):
        self.counts.constr_nfev += 1
        parts = []
        for i, block in enumerate(self.blocks):
            value = block.fun(x)
            if self.sizes is not None and value.shape != (self.sizes[i],):
                raise ValueError(f"{block.name} fun returned shape {value.shape}, earlier "
                                 f"{(self.sizes[i],)}")
            parts.append(checked_vector(value, f"{block.name} fun", value.shape))
        if self.sizes is None:
            self.sizes = tuple(p.shape[0] for p in parts)
        return np.concatenate(parts)

    def jacobian(self, x):
        """The ``(m, n)`` constraint Jacobian: sparse (CSR) when every block is sparse."""
        self.counts.constr_njev += 1
        parts = [checked_matrix(block.jac(x, m), f"{block.name} jac", (m, self.n))
                 for block, m in zip(self.blocks, self.sizes)]
        if any(is_linear_operator(p) for p in parts):
            raise TypeError("a constraint jac must return a dense or sparse matrix, not a "
                            "LinearOperator (the KKT system needs its rows)")
        if all(_is_sparse(p) for p in parts):
            return scipy.sparse.csr_array(scipy.sparse.vstack(parts)) if len(parts) > 1 \
                else parts[0]
        return np.vstack([p.toarray() if _is_sparse(p) else p for p in parts])

    def lagrangian_gradient(self, g, G, lam):
        return g + G.T @ lam

    # -- second order ------------------------------------------------------------------
    def hessian(self, x, lam):
        """The Lagrangian Hessian at ``(x, lam)`` as a :class:`LagrangianHessian`."""
        n = self.n
        matrices, products, fd_blocks = [], [], []
        fd_objective = False
        if self.hess is not None:
            self.counts.nhev += 1
            matrices.append(checked_matrix(self.hess(np.array(x), *self.args), "hess", (n, n)))
        elif self.hessp is not None:
            products.append(self._objective_product(x))
        else:
            fd_objective = True
        offset = 0
        for block, m in zip(self.blocks, self.sizes):
            lam_b = lam[offset:offset + m]
            offset += m
            if block.linear:
                continue
            if block._hess is None:
                fd_blocks.append((block, lam_b))
                continue
            self.counts.constr_nhev += 1
            H = block.hess(x, lam_b)
            matrices.append(checked_matrix(H, f"{block.name} hess", (n, n)))
        for i, M in enumerate(matrices):
            if is_linear_operator(M):
                products.append(M.matvec)
                matrices[i] = None
        matrices = [M for M in matrices if M is not None]
        if fd_objective or fd_blocks:
            products.append(self._difference_product(x, lam, fd_objective, fd_blocks))
        return LagrangianHessian(n, matrices, products)

    def _objective_product(self, x):
        def product(v):
            self.counts.nhev += 1
            return checked_vector(self.hessp(np.array(x), np.array(v), *self.args), "hessp",
                                  (self.n,))
        return product

    def _difference_product(self, x, lam, with_objective, blocks):
        """``v -> (grad(x + h v) - grad(x)) / h`` for the parts with no Hessian given:
        ``grad f`` (if ``with_objective``) plus ``J_b^T lam_b`` of the listed blocks."""
        def gradient(z):
            total = np.zeros(self.n)
            if with_objective:
                total += self.fun_and_grad(z)[1]
            for block, lam_b in blocks:
                m = lam_b.shape[0]
                self.counts.constr_njev += 1
                J = checked_matrix(block.jac(z, m), f"{block.name} jac", (m, self.n))
                total += J.T @ lam_b
            return total

        base = gradient(x)
        scale = math.sqrt(np.finfo(float).eps) * (1.0 + float(np.linalg.norm(x)))

        def product(v):
            norm = float(np.linalg.norm(v))
            if norm == 0.0:
                return np.zeros(self.n)
            h = scale / norm
            return (gradient(x + h * v) - base) / h
        return product


class LagrangianHessian:
    """``sum(matrices) + sum(products)``: ``matvec`` and, for the KKT matrix, ``matrix``
    (sparse when every part is a sparse matrix, otherwise dense, built column by column
    from the products where there are any, then symmetrized)."""

    def __init__(self, n, matrices, products):
        self.n, self.matrices, self.products = n, matrices, products

    def matvec(self, v):
        out = np.zeros(self.n)
        for M in self.matrices:
            out += M @ v
        for p in self.products:
            out += p(v)
        return out

    def matrix(self):
        if not self.products and self.matrices and all(_is_sparse(M) for M in self.matrices):
            total = self.matrices[0]
            for M in self.matrices[1:]:
                total = total + M
            return scipy.sparse.csr_array(total)
        B = np.zeros((self.n, self.n))
        for M in self.matrices:
            B += M.toarray() if _is_sparse(M) else M
        if self.products:
            eye = np.eye(self.n)
            cols = np.column_stack([sum(p(eye[:, j]) for p in self.products)
                                    for j in range(self.n)])
            B += 0.5 * (cols + cols.T)
        return B
