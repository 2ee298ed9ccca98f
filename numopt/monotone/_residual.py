"""The stopping measures: the operator residual of ``0 in F(z) + G(z)`` and the
duality gap of a matrix game, both recomputed from the iterate in float64."""

from __future__ import annotations

from ._prox import NoProx

__all__ = ["operator_residual", "ResidualMeasure"]


def operator_residual(xp, op, prox, z, Fz=None):
    """``L ||z - P(z - F(z) / L)||``, the forward-backward (natural) residual at step
    ``1/L``; ``||F(z)||`` when ``G = 0``. It is zero exactly at the solutions, and it
    certifies the forward-backward point ``z' = P(z - F(z)/L)``:
    ``dist(0, F(z') + G(z')) <= 2 residual(z)`` (``F`` ``L``-Lipschitz)."""
    Fz = op.full(xp, z) if Fz is None else Fz
    if isinstance(prox, NoProx):
        return float(xp.linalg.vector_norm(Fz))
    L = op.lipschitz
    return L * float(xp.linalg.vector_norm(z - prox(xp, z - Fz / L)))


class ResidualMeasure:
    """The operator residual, in float64 (a float32 iterate is cast up)."""

    name = "residual"

    def __init__(self, xp, op, prox):
        self.xp, self.prox = xp, prox
        self.op64 = op.for_dtype(xp, xp.float64)

    def __call__(self, z, Fz=None):
        xp = self.xp
        if z.dtype != xp.float64:
            z, Fz = xp.astype(z, xp.float64), None
        return operator_residual(xp, self.op64, self.prox, z, Fz)
