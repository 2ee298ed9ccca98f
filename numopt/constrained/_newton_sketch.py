"""Inexact Newton for ``min f(x) s.t. c(x) = 0`` with the KKT system solved by
randomized iterative sketching and steps tested on an exact augmented Lagrangian
(Hong, Na, Mahoney & Kolar, ICML 2023).

Each iteration at ``(x, l)`` with ``g = grad_x L = grad f + G^T l`` and ``c = c(x)``:

1. Solve ``[B + d I, G^T; G, 0] [dx; dl] = -[g; c]`` (``B`` the Lagrangian Hessian)
   with :func:`numopt.linalg.sketch_solve` to the accuracy ``||r|| <= theta ||(g, c)||``
   (``theta = min(accuracy, ||(g, c)||)`` when sharpened: superlinear local rate).
2. Hessian shift ``d``: where the reduced Hessian ``Z^T B Z`` (``Z`` spanning the null
   space of ``G``) is computed (dense problems up to ``_DENSE_INERTIA`` unknowns), ``d``
   makes it positive definite (its smallest eigenvalue then at least ``|lambda_min|``
   and ``|Z^T g| / max(1, |x|)``); elsewhere the curvature test ``dx^T (B + d I) dx >= kappa ||dx||^2``
   (an inertia-free stand-in) raises ``d``.
3. Descent test on the merit ``L_eta = f + l^T c + eta1/2 |c|^2 + eta2/2 |g|^2``:
   its directional derivative is ``D = P + eta1 Q1 + eta2 Q2`` with ``P = g.dx + c.dl``
   free of the penalties and ``Q1 = c.G dx``, ``Q2 = g.(B dx + G^T dl)``, which an
   exact unshifted solve makes ``-|c|^2`` and ``-|g|^2``. Accept when ``D <= -T/4``,
   ``T = eta1 |c|^2 + eta2 |g|^2``. If ``Q1`` or ``Q2`` is above half its exact value
   the solve was too inexact: tighten ``theta``. Otherwise (the paper's rule) ``eta2``
   falls where its term is no descent (``Q2 > -|g|^2/4``, a shifted step) and ``eta1``
   rises until ``D <= -T/4``.
4. Armijo backtracking on ``L_eta``.

When ``lambda_min(G G^T) <= rank_tol * lambda_max(G G^T)`` (or ``G`` has a zero row)
the KKT system is solved in the least-squares sense (its minimum-norm multiplier
step), and the result counts those iterations; when no direction passes the tests the
step falls back to steepest descent on the merit.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .._result import Status
from .._validation import _is_sparse
from ._validation import UserFunctionError

__all__ = ["NewtonSketchSolver"]

_THETA_FLOOR = 1e-12
_SHIFT_MIN, _SHIFT_MAX = 1e-4, 1e12
_CURVATURE = 1e-8
_MAX_TRIES = 40
_ETA2_FLOOR = 1e-12
_MAX_HALVINGS = 50
_DENSE_RANK_CHECK = 3000   # rows of G up to which lambda_min(G G^T) is computed
_DENSE_INERTIA = 2000      # unknowns up to which the reduced Hessian's spectrum is computed


class NewtonSketchSolver:
    """``run_solver`` object. The state is a dict: the iterate ``x``, ``lam`` and its
    values (``f``, ``gf``, ``c``, ``G``, ``gL``, ``kkt``), the Lagrangian Hessian ``B``,
    the penalties ``eta1``, ``eta2``, the Hessian shift ``shift``, the sampling ``rng``,
    counters, and ``failed`` (a user function that returned NaN, or a stalled search)."""

    def __init__(self, nlp, x0, lam0, dtype, *, tol, kkt_solver, sketch, block_size,
                 inner_maxiter, accuracy, sharpen, eta1, eta2, armijo, rank_tol, seed):
        self.nlp, self.x0, self.lam0, self.dtype = nlp, x0, lam0, dtype
        self.tol, self.kkt_solver, self.sketch = tol, kkt_solver, sketch
        self.block_size, self.inner_maxiter = block_size, inner_maxiter
        self.accuracy, self.sharpen, self.eta = accuracy, sharpen, (eta1, eta2)
        self.armijo, self.rank_tol, self.seed = armijo, rank_tol, seed

    # -- evaluations -------------------------------------------------------------------
    def _round(self, v):
        """``v`` in the caller's dtype and back: the state holds exactly what is
        returned, so the reported KKT residual is that of the returned point."""
        return np.asarray(np.asarray(v, dtype=self.dtype), dtype=float)

    def _point(self, x, lam):
        nlp = self.nlp
        f, gf = nlp.fun_and_grad(x)
        c = nlp.constraints(x)
        G = nlp.jacobian(x)
        gL = gf + G.T @ lam
        return {"x": x, "lam": lam, "f": f, "gf": gf, "c": c, "G": G, "gL": gL,
                "kkt": float(math.hypot(np.linalg.norm(gL), np.linalg.norm(c)))}

    def init(self):
        try:
            return self._init()
        except UserFunctionError as exc:
            raise ValueError(f"{exc.name} returned NaN or inf at x0") from None

    def _init(self):
        nlp = self.nlp
        x = self._round(self.x0)
        f, gf = nlp.fun_and_grad(x)
        c = nlp.constraints(x)
        m, n = c.shape[0], x.shape[0]
        if m > n:
            raise ValueError(f"more equality constraints than unknowns: the constraints "
                             f"return shape ({m},) and x0 has shape ({n},); newton-sketch "
                             "needs m <= n")
        G = nlp.jacobian(x)
        if self.lam0 is None:
            lam = self._least_squares_multipliers(G, gf)
        else:
            lam = np.asarray(self.lam0, dtype=float)
            if lam.shape != (m,):
                raise ValueError(f"multipliers0 has shape {lam.shape}, expected ({m},) "
                                 "(one per equality constraint)")
        state = self._point(x, self._round(lam))
        state.update(eta1=float(self.eta[0]), eta2=float(self.eta[1]), shift=0.0,
                     rng=np.random.default_rng(self.seed), inner_nit=0, kkt_solves=0,
                     rank_deficient_steps=0, descent_fallbacks=0, failed=None,
                     stalled=False, alpha=None, lambda_min_GGt=None, last_nan=None)
        state["B"] = nlp.hessian(x, state["lam"])
        state["HgL"] = state["B"].matvec(state["gL"])
        return state

    @staticmethod
    def _least_squares_multipliers(G, gf):
        """``argmin ||gf + G^T l||``: the multipliers that best fit the start."""
        if _is_sparse(G):
            return scipy.sparse.linalg.lsqr(G.T, -gf, atol=1e-12, btol=1e-12)[0]
        return scipy.linalg.lstsq(G.T, -gf, lapack_driver="gelsy")[0]

    # -- the KKT solve -----------------------------------------------------------------
    def _rank_deficient(self, G):
        """``(flag, lambda_min(G G^T) / lambda_max)``; large sparse ``G`` is assumed
        full rank (the eigenvalues would cost more than the step)."""
        m = G.shape[0]
        if m > _DENSE_RANK_CHECK:
            return False, None
        Gd = G.toarray() if _is_sparse(G) else G
        ev = scipy.linalg.eigvalsh(Gd @ Gd.T)
        top = max(float(ev[-1]), 0.0)
        ratio = float(ev[0]) / top if top > 0 else 0.0
        return ratio <= self.rank_tol, ratio

    def _matrix_free(self, B):
        """Whether ``B`` stays a product: it has products (``hessp``, a LinearOperator,
        finite differences), the KKT solve is the sketch, and ``n`` is past the size
        where the dense ``B`` (at most 32 MB) also gives the reduced-Hessian shift."""
        return bool(B.products) and self.kkt_solver == "sketch" and B.n > _DENSE_INERTIA

    @staticmethod
    def _kkt_operator(B, G, shift):
        """``[B + d I, G^T; G, 0]`` as a symmetric LinearOperator: the sketch takes its
        rows as products (``k`` Hessian products a block), so ``B`` is never formed
        (Poisson control at N = 128: 8.6 GB as a dense matrix)."""
        n, m = G.shape[1], G.shape[0]

        def product(z):
            z = np.ravel(z)
            zx, zl = z[:n], z[n:]
            return np.concatenate([B.matvec(zx) + shift * zx + G.T @ zl, G @ zx])

        return scipy.sparse.linalg.LinearOperator((n + m, n + m), matvec=product,
                                                  rmatvec=product, dtype=float)

    def _kkt_matrix(self, Bmat, G, shift, sparse):
        n, m = G.shape[1], G.shape[0]
        if sparse:
            B = scipy.sparse.csr_array(Bmat) + shift * scipy.sparse.eye_array(n)
            return scipy.sparse.csc_array(scipy.sparse.block_array(
                [[B, G.T], [G, None]], format="csc"))
        B = Bmat.toarray() if _is_sparse(Bmat) else np.array(Bmat)
        B[np.diag_indices(n)] += shift
        Gd = G.toarray() if _is_sparse(G) else G
        K = np.zeros((n + m, n + m))
        K[:n, :n], K[:n, n:], K[n:, :n] = B, Gd.T, Gd
        return K

    def _solve(self, K, b, theta, least_squares, rng, z0):
        """``(z, inner steps)`` with ``K z ~ b``."""
        if self.kkt_solver == "direct":
            if scipy.sparse.issparse(K):
                if least_squares:
                    return scipy.sparse.linalg.lsqr(K, b, atol=1e-14, btol=1e-14)[0], 0
                return scipy.sparse.linalg.spsolve(K, b), 0
            if least_squares:
                return scipy.linalg.lstsq(K, b, lapack_driver="gelsd")[0], 0
            return scipy.linalg.solve(K, b, assume_a="sym"), 0
        from ..linalg import sketch_solve

        if isinstance(K, scipy.sparse.linalg.LinearOperator):
            block = min(K.shape[0], self.block_size or 50) if self.sketch != "kaczmarz" \
                else None
            res = sketch_solve(K, b, z0, sketch=self.sketch, block_size=block,
                               least_squares=least_squares, tol=theta,
                               maxiter=self.inner_maxiter, seed=rng)
            return np.asarray(res.x, dtype=float), int(res.nit)
        if scipy.sparse.issparse(K):
            K = K.toarray()
        # a zero row holds no equation to project on, a zero column (the same index: K
        # is symmetric) no unknown to move: the sketch sees the rest
        live = np.any(K != 0, axis=1)
        Kr, br = (K, b) if live.all() else (K[np.ix_(live, live)], b[live])
        if z0 is not None and not live.all():
            z0 = z0[live]
        size = Kr.shape[0]
        block = min(size, self.block_size or 50) if self.sketch != "kaczmarz" else None
        res = sketch_solve(Kr, br, z0, sketch=self.sketch, block_size=block,
                           least_squares=least_squares, tol=theta,
                           maxiter=self.inner_maxiter, seed=rng)
        z = np.zeros(K.shape[0])
        z[live] = res.x
        return z, int(res.nit)

    # -- one iteration -----------------------------------------------------------------
    def step(self, s):
        if s["failed"] is not None or s["stalled"]:
            return s
        try:
            return self._step(s)
        except UserFunctionError as exc:
            s["failed"] = exc.name
            return s
        except np.linalg.LinAlgError as exc:
            # LAPACK gave up on this iterate's KKT system (S2MPJ's LUKVLE8: "SVD did
            # not converge"): a status and a message, never a crash out of minimize
            s["linalg_failure"] = str(exc)
            s["stalled"] = True
            return s

    def _merit_gradient(self, s, HgL, eta1, eta2):
        G, c, gL = s["G"], s["c"], s["gL"]
        gx = gL + eta1 * (G.T @ c) + eta2 * HgL
        gl = c + eta2 * (G @ gL)
        return gx, gl

    def _reduced_curvature(self, Bmat, G, deficient, gL):
        """``(lambda_min, scale, |Z^T g|)`` of the reduced Hessian ``Z^T B Z`` (``Z`` an
        orthonormal basis of the null space of ``G``), or ``None`` where that would cost more than the step (large
        or sparse problems: the curvature test along ``dx`` stands in)."""
        m, n = G.shape
        if n > _DENSE_INERTIA or _is_sparse(Bmat) and n > _DENSE_RANK_CHECK:
            return None
        if n == m and not deficient:
            return math.inf, 1.0, 0.0    # no null space: G alone fixes dx
        Gd = G.toarray() if _is_sparse(G) else np.asarray(G)
        Bd = Bmat.toarray() if _is_sparse(Bmat) else np.asarray(Bmat)
        if deficient:
            Z = scipy.linalg.null_space(Gd)
        else:
            Z = scipy.linalg.qr(Gd.T, mode="full")[0][:, m:]
        if Z.shape[1] == 0:
            return math.inf, 1.0, 0.0
        R = Z.T @ (0.5 * (Bd + Bd.T)) @ Z
        ev = scipy.linalg.eigvalsh(R)
        return (float(ev[0]), max(1.0, float(np.max(np.abs(ev)))),
                float(np.linalg.norm(Z.T @ gL)))

    def _step(self, s):
        nlp = self.nlp
        x, lam, c, G, gL, B = s["x"], s["lam"], s["c"], s["G"], s["gL"], s["B"]
        n, m = x.shape[0], c.shape[0]
        HgL = s["HgL"]
        matrix_free = self._matrix_free(B)
        Bmat = None if matrix_free else B.matrix()
        deficient, ratio = self._rank_deficient(G)
        s["lambda_min_GGt"] = ratio
        if deficient:
            s["rank_deficient_steps"] += 1
        sparse = self.kkt_solver == "direct" and _is_sparse(G) and _is_sparse(Bmat)
        build = ((lambda d: self._kkt_operator(B, G, d)) if matrix_free
                 else (lambda d: self._kkt_matrix(Bmat, G, d, sparse)))
        b = -np.concatenate([gL, c])
        bnorm = s["kkt"]
        theta = min(self.accuracy, bnorm) if self.sharpen else self.accuracy
        eta1, eta2 = s["eta1"], s["eta2"]
        c_sq, g_sq = float(c @ c), float(gL @ gL)
        # The shift makes the reduced Hessian Z^T (B + d I) Z positive definite: without
        # it the KKT step heads for a saddle of the Lagrangian (a random nonconvex
        # 200 x 100 problem took steps of length 140 from a point 14 away from feasible
        # and Armijo cut them to 2^-5..2^-12). A negative lambda_min is mirrored
        # (d = 2 |lambda_min|), so the shifted step is no longer than the unshifted one
        # would be on a convex problem of the same curvature; none is applied where the
        # reduced Hessian is positive definite (the fast local rate).
        reduced = None if matrix_free else self._reduced_curvature(Bmat, G, deficient, gL)
        first_shift = max(_SHIFT_MIN, s["shift"] / 10)
        if reduced is not None:
            lmin, scale, tangential = reduced
            floor = _CURVATURE * scale
            if lmin >= floor:
                shift = 0.0
            elif lmin >= 0:
                shift = floor - lmin
            else:
                # shifted, the smallest reduced eigenvalue is at least |lambda_min|, and
                # at least |Z^T g| / max(1, |x|), which keeps the tangential step within
                # the size of x (a Levenberg-Marquardt bound): a barely negative
                # lambda_min mirrored alone gave steps Armijo cut to 2^-14 (HS6: 58
                # iterations; 11 with the bound)
                radius = max(1.0, float(np.linalg.norm(x)))
                shift = -lmin + max(-lmin, tangential / radius)
        else:
            shift = 0.0
            if not matrix_free and not np.all(np.any(Bmat != 0, axis=1) if not _is_sparse(Bmat)
                          else np.diff(scipy.sparse.csr_array(Bmat).indptr) > 0):
                shift = first_shift   # a variable with no curvature at all
        K = build(shift)
        z0, direction, last_residual = None, None, math.inf
        for _ in range(_MAX_TRIES):
            z, inner = self._solve(K, b, theta, deficient, s["rng"], z0)
            s["inner_nit"] += inner
            s["kkt_solves"] += 1
            dx, dl = z[:n], z[n:]
            Bdx = B.matvec(dx)
            curvature = float(dx @ Bdx) + shift * float(dx @ dx)
            if (reduced is None and curvature < _CURVATURE * float(dx @ dx)
                    and shift < _SHIFT_MAX):
                # no positive curvature along dx (tested before the accuracy: a singular
                # KKT matrix would keep the sketch from ever reaching it)
                shift = first_shift if shift == 0.0 else 10 * shift
                K = build(shift)
                z0, last_residual = None, math.inf
                continue
            residual = float(np.linalg.norm(K @ z - b))
            if not deficient and residual > theta * bnorm and residual < 0.9 * last_residual:
                # the accuracy condition comes before the merit: sketch on from here
                # (until a further run no longer helps: the rounding floor of an
                # ill-conditioned KKT matrix, or a sketch too slow to reach theta)
                z0, last_residual = z, residual
                continue
            # the slope of L_eta along (dx, dl) is P + eta1 Q1 + eta2 Q2: P is free of
            # the penalties; an exact unshifted solve makes Q1 = -|c|^2, Q2 = -|g|^2
            P = float(gL @ dx + c @ dl)
            Q1 = float(c @ (G @ dx))
            Q2 = float(gL @ (Bdx + G.T @ dl))
            T = eta1 * c_sq + eta2 * g_sq
            if P + eta1 * Q1 + eta2 * Q2 <= -0.25 * T:
                direction = (dx, dl)
                break
            inexact = self.kkt_solver != "direct" and theta > _THETA_FLOOR
            if inexact and (Q1 > -0.5 * c_sq or Q2 > -0.5 * g_sq):
                # the solve was too inexact for the merit: tighten it
                theta = max(theta / 10, _THETA_FLOOR)
                z0, last_residual = z, math.inf
                continue
            # the paper's rule: eta1 up (feasibility weighs more: Q1 ~ -|c|^2 < 0) for a
            # small eta2. Where the eta2 term is no descent (a shift makes Q2 differ from
            # -|g|^2), eta2 falls instead, to where P < 0 (a positive definite reduced
            # Hessian) dominates it: raising both together, as before, kept it in
            # charge (200 x 100 nonconvex: over 100 iterations -> 46, unit steps at the end)
            lift1, lift2 = Q1 + 0.25 * c_sq, Q2 + 0.25 * g_sq
            if lift2 > 0 and P < 0 and eta2 * lift2 > -0.5 * P and eta2 > _ETA2_FLOOR:
                eta2 = max(-0.5 * P / lift2, _ETA2_FLOOR)
                continue
            if lift1 >= 0:
                break
            eta1 = max(2.0 * eta1, 2.0 * (P + eta2 * lift2) / -lift1)
        s["shift"] = shift
        s["eta1"], s["eta2"] = eta1, eta2
        gx, gl = self._merit_gradient(s, HgL, eta1, eta2)
        if direction is None:   # no Newton direction passed: steepest descent on L_eta
            s["descent_fallbacks"] += 1
            direction = (-gx, -gl)
        dx, dl = direction
        slope = float(gx @ dx + gl @ dl)
        merit0 = self._merit(s, eta1, eta2)
        alpha, new = 1.0, None
        noise = 10 * np.finfo(float).eps * abs(merit0)
        if slope < 0:
            for _ in range(_MAX_HALVINGS):
                try:
                    trial = self._point(self._round(x + alpha * dx),
                                        self._round(lam + alpha * dl))
                    value = self._merit(trial, eta1, eta2)
                except UserFunctionError as exc:
                    s["last_nan"] = exc.name
                    value = math.inf
                # the test is relaxed by the rounding of the merit (IPOPT does the
                # same): near a solution its decrease falls below the last digits of f
                if value <= merit0 + self.armijo * alpha * slope + noise:
                    new = trial
                    break
                alpha *= 0.5
        if new is None:
            s["stalled"] = True
            return s
        s.update(new)
        s["alpha"] = alpha
        s["B"] = nlp.hessian(s["x"], s["lam"])
        s["HgL"] = s["B"].matvec(s["gL"])
        return s

    @staticmethod
    def _merit(p, eta1, eta2):
        c, gL = p["c"], p["gL"]
        return (p["f"] + float(p["lam"] @ c) + 0.5 * eta1 * float(c @ c)
                + 0.5 * eta2 * float(gL @ gL))

    # -- verdict -----------------------------------------------------------------------
    def check(self, s):
        if s["failed"] is not None:
            return Status.NONFINITE
        if not math.isfinite(s["kkt"]):
            return Status.NONFINITE
        if s["kkt"] <= self.tol:
            return Status.SUCCESS
        if s.get("linalg_failure"):
            return Status.STALLED
        if s["stalled"]:
            return Status.LINE_SEARCH_FAILED
        return None

    def result(self, s):
        counts = self.nlp.counts
        obj = self.nlp.objective
        return {
            "x": np.asarray(s["x"], dtype=self.dtype),
            "fun": s["f"],
            "jac": np.asarray(s["gf"], dtype=self.dtype),
            "multipliers": np.asarray(s["lam"], dtype=self.dtype),
            "kkt_residual": s["kkt"],
            "constraint_violation": float(np.max(np.abs(s["c"]))),
            "optimality": float(np.max(np.abs(s["gL"]))),
            "eta1": s["eta1"], "eta2": s["eta2"], "hessian_shift": s["shift"],
            "rank_deficient_steps": s["rank_deficient_steps"],
            "step_size": s["alpha"],
            "stats": {"nfev": int(obj.nfev), "njev": int(obj.ngev), "nhev": counts.nhev,
                      "constr_nfev": counts.constr_nfev, "constr_njev": counts.constr_njev,
                      "constr_nhev": counts.constr_nhev, "inner_nit": s["inner_nit"],
                      "kkt_solves": s["kkt_solves"],
                      "descent_fallbacks": s["descent_fallbacks"]},
        }

    def detail(self, s, status):
        notes = []
        if s["failed"] is not None:
            notes.append(f"{s['failed']} returned NaN or inf at an iterate.")
        elif status is not Status.SUCCESS:
            c_norm = float(np.linalg.norm(s["c"]))
            notes.append(f"The KKT residual ||(grad f + J^T l, c)|| = {s['kkt']:.3e} is "
                         f"above tol = {self.tol:.3e} (||c|| = {c_norm:.3e}).")
            if s.get("linalg_failure"):
                notes.append(f"The KKT solve failed at this iterate: {s['linalg_failure']}.")
            if s["stalled"] and s.get("last_nan"):
                notes.append(f"{s['last_nan']} returned NaN or inf at a trial point.")
        if s["rank_deficient_steps"]:
            notes.append(f"The constraint Jacobian was nearly rank-deficient "
                         f"(lambda_min(G G^T) / lambda_max <= {self.rank_tol:g}) at "
                         f"{s['rank_deficient_steps']} iterations: least-squares KKT "
                         "(minimum-norm multiplier) steps were used there.")
        if s["descent_fallbacks"]:
            notes.append(f"{s['descent_fallbacks']} steps fell back to steepest descent on "
                         "the augmented Lagrangian merit.")
        return " ".join(notes)
