"""Small equality-constrained problems written from their published formulas: Hock &
Schittkowski, "Test Examples for Nonlinear Programming Codes" (1981) and Betts (BT1).
Each is ``(fun, jac, cfun, cjac, x0, x_star, f_star)``; gradients are hand-written and
checked against finite differences in test_constrained_hs.py."""

import math

import numpy as np

PROBLEMS = {}


def problem(name, x0, x_star, f_star):
    def register(build):
        fun, jac, cfun, cjac = build()
        PROBLEMS[name] = {"name": name, "fun": fun, "jac": jac, "cfun": cfun, "cjac": cjac,
                          "x0": np.array(x0, dtype=float),
                          "x_star": None if x_star is None else np.array(x_star, dtype=float),
                          "f_star": f_star}
        return build
    return register


@problem("HS6", [-1.2, 1.0], [1.0, 1.0], 0.0)
def _hs6():
    return (lambda x: (1 - x[0]) ** 2,
            lambda x: np.array([-2 * (1 - x[0]), 0.0]),
            lambda x: np.array([10 * (x[1] - x[0] ** 2)]),
            lambda x: np.array([[-20 * x[0], 10.0]]))


@problem("HS7", [2.0, 2.0], [0.0, math.sqrt(3)], -math.sqrt(3))
def _hs7():
    return (lambda x: math.log1p(x[0] ** 2) - x[1],
            lambda x: np.array([2 * x[0] / (1 + x[0] ** 2), -1.0]),
            lambda x: np.array([(1 + x[0] ** 2) ** 2 + x[1] ** 2 - 4]),
            lambda x: np.array([[4 * x[0] * (1 + x[0] ** 2), 2 * x[1]]]))


@problem("HS26", [-2.6, 2.0, 2.0], [1.0, 1.0, 1.0], 0.0)
def _hs26():
    return (lambda x: (x[0] - x[1]) ** 2 + (x[1] - x[2]) ** 4,
            lambda x: np.array([2 * (x[0] - x[1]), -2 * (x[0] - x[1]) + 4 * (x[1] - x[2]) ** 3,
                                -4 * (x[1] - x[2]) ** 3]),
            lambda x: np.array([(1 + x[1] ** 2) * x[0] + x[2] ** 4 - 3]),
            lambda x: np.array([[1 + x[1] ** 2, 2 * x[0] * x[1], 4 * x[2] ** 3]]))


@problem("HS27", [2.0, 2.0, 2.0], [-1.0, 1.0, 0.0], 0.04)
def _hs27():
    return (lambda x: 0.01 * (x[0] - 1) ** 2 + (x[1] - x[0] ** 2) ** 2,
            lambda x: np.array([0.02 * (x[0] - 1) - 4 * x[0] * (x[1] - x[0] ** 2),
                                2 * (x[1] - x[0] ** 2), 0.0]),
            lambda x: np.array([x[0] + x[2] ** 2 + 1]),
            lambda x: np.array([[1.0, 0.0, 2 * x[2]]]))


@problem("HS28", [-4.0, 1.0, 1.0], [0.5, -0.5, 0.5], 0.0)
def _hs28():
    return (lambda x: (x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2,
            lambda x: np.array([2 * (x[0] + x[1]), 2 * (x[0] + x[1]) + 2 * (x[1] + x[2]),
                                2 * (x[1] + x[2])]),
            lambda x: np.array([x[0] + 2 * x[1] + 3 * x[2] - 1]),
            lambda x: np.array([[1.0, 2.0, 3.0]]))


@problem("HS39", [2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 0.0, 0.0], -1.0)
def _hs39():
    return (lambda x: -x[0],
            lambda x: np.array([-1.0, 0.0, 0.0, 0.0]),
            lambda x: np.array([x[1] - x[0] ** 3 - x[2] ** 2, x[0] ** 2 - x[1] - x[3] ** 2]),
            lambda x: np.array([[-3 * x[0] ** 2, 1.0, -2 * x[2], 0.0],
                                [2 * x[0], -1.0, 0.0, -2 * x[3]]]))


@problem("HS40", [0.8] * 4, [2 ** (-1 / 3), 2 ** (-1 / 2), 2 ** (-11 / 12), 2 ** (-1 / 4)],
         -0.25)
def _hs40():
    return (lambda x: -x[0] * x[1] * x[2] * x[3],
            lambda x: -np.array([x[1] * x[2] * x[3], x[0] * x[2] * x[3], x[0] * x[1] * x[3],
                                 x[0] * x[1] * x[2]]),
            lambda x: np.array([x[0] ** 3 + x[1] ** 2 - 1, x[0] ** 2 * x[3] - x[2],
                                x[3] ** 2 - x[1]]),
            lambda x: np.array([[3 * x[0] ** 2, 2 * x[1], 0.0, 0.0],
                                [2 * x[0] * x[3], 0.0, -1.0, x[0] ** 2],
                                [0.0, -1.0, 0.0, 2 * x[3]]]))


@problem("HS46", [math.sqrt(2) / 2, 1.75, 0.5, 2.0, 2.0], [1.0] * 5, 0.0)
def _hs46():
    return (lambda x: (x[0] - x[1]) ** 2 + (x[2] - 1) ** 2 + (x[3] - 1) ** 4 + (x[4] - 1) ** 6,
            lambda x: np.array([2 * (x[0] - x[1]), -2 * (x[0] - x[1]), 2 * (x[2] - 1),
                                4 * (x[3] - 1) ** 3, 6 * (x[4] - 1) ** 5]),
            lambda x: np.array([x[0] ** 2 * x[3] + math.sin(x[3] - x[4]) - 1,
                                x[1] + x[2] ** 4 * x[3] ** 2 - 2]),
            lambda x: np.array([
                [2 * x[0] * x[3], 0.0, 0.0, x[0] ** 2 + math.cos(x[3] - x[4]),
                 -math.cos(x[3] - x[4])],
                [0.0, 1.0, 4 * x[2] ** 3 * x[3] ** 2, 2 * x[2] ** 4 * x[3], 0.0]]))


@problem("HS47", [2.0, math.sqrt(2), -1.0, 2 - math.sqrt(2), 0.5], [1.0] * 5, 0.0)
def _hs47():
    return (lambda x: ((x[0] - x[1]) ** 2 + (x[1] - x[2]) ** 3 + (x[2] - x[3]) ** 4
                       + (x[3] - x[4]) ** 4),
            lambda x: np.array([2 * (x[0] - x[1]),
                                -2 * (x[0] - x[1]) + 3 * (x[1] - x[2]) ** 2,
                                -3 * (x[1] - x[2]) ** 2 + 4 * (x[2] - x[3]) ** 3,
                                -4 * (x[2] - x[3]) ** 3 + 4 * (x[3] - x[4]) ** 3,
                                -4 * (x[3] - x[4]) ** 3]),
            lambda x: np.array([x[0] + x[1] ** 2 + x[2] ** 3 - 3, x[1] - x[2] ** 2 + x[3] - 1,
                                x[0] * x[4] - 1]),
            lambda x: np.array([[1.0, 2 * x[1], 3 * x[2] ** 2, 0.0, 0.0],
                                [0.0, 1.0, -2 * x[2], 1.0, 0.0],
                                [x[4], 0.0, 0.0, 0.0, x[0]]]))


@problem("HS48", [3.0, 5.0, -3.0, 2.0, -2.0], [1.0] * 5, 0.0)
def _hs48():
    A = np.array([[1.0, 1, 1, 1, 1], [0.0, 0, 1, -2, -2]])
    return (lambda x: (x[0] - 1) ** 2 + (x[1] - x[2]) ** 2 + (x[3] - x[4]) ** 2,
            lambda x: np.array([2 * (x[0] - 1), 2 * (x[1] - x[2]), -2 * (x[1] - x[2]),
                                2 * (x[3] - x[4]), -2 * (x[3] - x[4])]),
            lambda x: A @ x - np.array([5.0, -3.0]),
            lambda x: A)


@problem("HS49", [10.0, 7.0, 2.0, -3.0, 0.8], [1.0] * 5, 0.0)
def _hs49():
    A = np.array([[1.0, 1, 1, 4, 0], [0.0, 0, 1, 0, 5]])
    return (lambda x: (x[0] - x[1]) ** 2 + (x[2] - 1) ** 2 + (x[3] - 1) ** 4 + (x[4] - 1) ** 6,
            lambda x: np.array([2 * (x[0] - x[1]), -2 * (x[0] - x[1]), 2 * (x[2] - 1),
                                4 * (x[3] - 1) ** 3, 6 * (x[4] - 1) ** 5]),
            lambda x: A @ x - np.array([7.0, 6.0]),
            lambda x: A)


@problem("HS50", [35.0, -31.0, 11.0, 5.0, -5.0], [1.0] * 5, 0.0)
def _hs50():
    A = np.array([[1.0, 2, 3, 0, 0], [0.0, 1, 2, 3, 0], [0.0, 0, 1, 2, 3]])
    return (lambda x: ((x[0] - x[1]) ** 2 + (x[1] - x[2]) ** 2 + (x[2] - x[3]) ** 4
                       + (x[3] - x[4]) ** 2),
            lambda x: np.array([2 * (x[0] - x[1]), -2 * (x[0] - x[1]) + 2 * (x[1] - x[2]),
                                -2 * (x[1] - x[2]) + 4 * (x[2] - x[3]) ** 3,
                                -4 * (x[2] - x[3]) ** 3 + 2 * (x[3] - x[4]),
                                -2 * (x[3] - x[4])]),
            lambda x: A @ x - 6.0,
            lambda x: A)


@problem("HS51", [2.5, 0.5, 2.0, -1.0, 0.5], [1.0] * 5, 0.0)
def _hs51():
    A = np.array([[1.0, 3, 0, 0, 0], [0.0, 0, 1, 1, -2], [0.0, 1, 0, 0, -1]])
    return (lambda x: (x[0] - x[1]) ** 2 + (x[1] + x[2] - 2) ** 2 + (x[3] - 1) ** 2
            + (x[4] - 1) ** 2,
            lambda x: np.array([2 * (x[0] - x[1]), -2 * (x[0] - x[1]) + 2 * (x[1] + x[2] - 2),
                                2 * (x[1] + x[2] - 2), 2 * (x[3] - 1), 2 * (x[4] - 1)]),
            lambda x: A @ x - np.array([4.0, 0.0, 0.0]),
            lambda x: A)


@problem("HS52", [2.0] * 5, np.array([-33.0, 11, 180, -158, 11]) / 349, 1859 / 349)
def _hs52():
    A = np.array([[1.0, 3, 0, 0, 0], [0.0, 0, 1, 1, -2], [0.0, 1, 0, 0, -1]])
    return (lambda x: (4 * x[0] - x[1]) ** 2 + (x[1] + x[2] - 2) ** 2 + (x[3] - 1) ** 2
            + (x[4] - 1) ** 2,
            lambda x: np.array([8 * (4 * x[0] - x[1]),
                                -2 * (4 * x[0] - x[1]) + 2 * (x[1] + x[2] - 2),
                                2 * (x[1] + x[2] - 2), 2 * (x[3] - 1), 2 * (x[4] - 1)]),
            lambda x: A @ x,
            lambda x: A)


@problem("BT1", [0.08, 0.06], [1.0, 0.0], -1.0)
def _bt1():
    return (lambda x: 100 * x[0] ** 2 + 100 * x[1] ** 2 - x[0] - 100,
            lambda x: np.array([200 * x[0] - 1, 200 * x[1]]),
            lambda x: np.array([x[0] ** 2 + x[1] ** 2 - 1]),
            lambda x: np.array([[2 * x[0], 2 * x[1]]]))
