"""No CuPy kernels: numopt.constrained runs on NumPy / SciPy arrays (the KKT solves
reuse :func:`numopt.linalg.sketch_solve`, which has its own GPU path)."""
