import pytest

from numopt.testing import gpu_available


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    # The suite's problems are small: BLAS threads only fight each other (and pytest)
    # for the 2 cores, which made L-BFGS-B on short vectors 60x slower under load.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
