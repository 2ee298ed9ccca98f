"""No Numba kernel: every oracle of the bilevel problems is a BLAS product on a batch
(the per-iteration work of each method is a handful of them), so a compiled loop has
nothing to fuse. The room exists so the package looks like the others."""
