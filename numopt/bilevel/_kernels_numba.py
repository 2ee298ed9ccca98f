"""Numba kernel of SABA's step after its oracles (NumPy input).

The oracles are BLAS products on a batch; what follows them in a SABA iteration (the
SAGA updates of the two oracle tables and their means, the estimates, the three
variable updates) was ~20 NumPy calls on vectors of 10 to 210 entries, each costing
more in dispatch than in arithmetic. The loops below do the same operations in the
same order (no fastmath: the iterates are those of the NumPy reference).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _saga(table, mean, index, fresh, scale, weight, out):
    for j in range(fresh.shape[0]):
        change = fresh[j] - table[index, j]
        out[j] = scale * change + mean[j]
        mean[j] += weight * change
        table[index, j] = fresh[j]


@njit(cache=True, nogil=True)
def _saba_update(lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight,
                 upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight,
                 x, y, v, inner_step, outer_step):
    dy, dx = y.shape[0], x.shape[0]
    lower = np.empty(lower_fresh.shape[0])
    upper = np.empty(upper_fresh.shape[0])
    _saga(lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight, lower)
    _saga(upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight, upper)
    d_x, x_new = np.empty(dx), np.empty(dx)
    y_new, v_new = np.empty(dy), np.empty(dy)
    for j in range(dx):
        d_x[j] = upper[j] - lower[2 * dy + j]
        x_new[j] = x[j] - outer_step * d_x[j]
    for j in range(dy):
        y_new[j] = y[j] - inner_step * lower[j]
        v_new[j] = v[j] - inner_step * (lower[dy + j] - upper[dx + j])
    return x_new, y_new, v_new, d_x


def saba_update(xp, lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight,
                upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight,
                x, y, v, inner_step, outer_step):
    return _saba_update(lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight,
                        upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight,
                        x, y, v, float(inner_step), float(outer_step))
