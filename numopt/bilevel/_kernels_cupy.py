"""No CuPy kernel: the bilevel methods run on NumPy only (see the docs page)."""
