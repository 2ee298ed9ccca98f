"""Numba kernel: the primal network simplex for the transportation problem.

The graph is the complete bipartite graph from n sources (supplies ``a``) to m sinks
(demands ``b``), plus a root joined to every node by an artificial arc (LEMON's
initial basis). The basis is a spanning tree rooted there, stored as LEMON stores it
(Kovacs, "Minimum-cost flow algorithms: an experimental evaluation", 2015):
``parent``, ``pred`` (the tree arc to the parent), ``pred_dir`` (+1: the arc points up
to the parent, -1: down from it), the preorder ``thread`` and its inverse, subtree
sizes ``succ_num`` and last preorder successors ``last_succ``. Arcs are uncapacitated,
so a nonbasic arc is always at its lower bound (flow 0) and the flow of a tree arc is
kept with the node below it (``flow[u]`` is the flow of ``pred[u]``): no n*m flow array.

Entering arcs come from block search (blocks of about sqrt(n m) arcs, the most
negative reduced cost of the first block that has one). The tree stays strongly
feasible (every arc of zero flow points away from the root), which the initial tree
is (all supplies are nonzero, every artificial arc carries flow), and the leaving arc
is the last blocking arc met along the cycle from its apex in the direction of the
flow (Cunningham's rule): degenerate pivots cannot cycle.

This module imports numba: load it lazily (``import numopt`` must not import numba).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["network_simplex", "max_dual_violation"]

OPTIMAL, MAXITER, UNBOUNDED = 0, 1, 2
_UP, _DOWN = 1, -1


@njit(cache=True, nogil=True)
def _arc_cost(e, M, n, m, art_cost):
    nm = n * m
    if e < nm:
        return M[e // m, e % m]
    return 0.0 if e - nm < n else art_cost


@njit(cache=True, nogil=True)
def _find_entering(M, pi, state, n, m, block, start, threshold):
    """Block search: scan blocks of ``block`` arcs (in C order of M) from ``start``,
    cyclically, and return the arc of most negative reduced cost of the first block
    holding one below ``-threshold`` (and where to start next time), or -1.

    The blocks are walked row by row, so the inner loop reads one row of M, of the
    state and the sink potentials in order (a third faster than one flat loop that
    recovers (i, j) for every arc)."""
    nm = n * m
    best = -threshold
    chosen = -1
    e = start
    scanned = 0
    while scanned < nm:
        stop = min(e + block, nm)
        scanned += stop - e
        while e < stop:
            i = e // m
            j0 = e - i * m
            j1 = min(m, j0 + stop - e)
            row = M[i]
            pi_i = pi[i]
            base = i * m
            for j in range(j0, j1):
                if state[base + j] != 0:
                    c = row[j] + pi_i - pi[n + j]
                    if c < best:
                        best = c
                        chosen = base + j
            e = base + j1
        if e >= nm:
            e = 0
        if chosen >= 0:
            return chosen, e
    return chosen, e


@njit(cache=True, nogil=True)
def _tree_potentials(pi, M, n, m, art_cost, parent, pred, pred_dir, thread, root):
    """Potentials that make every tree arc's reduced cost zero, recomputed along the
    tree from the root (the pivots update them by subtree shifts, which accumulate
    rounding)."""
    pi[root] = 0.0
    u = thread[root]
    while u != root:
        c = _arc_cost(pred[u], M, n, m, art_cost)
        pi[u] = pi[parent[u]] - c if pred_dir[u] == _UP else pi[parent[u]] + c
        u = thread[u]


@njit(cache=True, nogil=True)
def _tree_flows(flow, supply, parent, pred_dir, rev_thread, root):
    """The flows of the tree arcs, recomputed from the supplies: the flow into or out of
    a subtree is its net supply (reverse preorder visits every subtree before its root).

    The sums are kept in double-double (a rounded sum and its exact error), so a subtree
    whose supplies cancel (a degenerate arc: uniform weights, ties) gets a flow of
    exactly zero rather than a rounding residue that would show up as a nonzero.
    """
    hi = supply.copy()
    lo = np.zeros_like(supply)
    u = rev_thread[root]
    while u != root:
        flow[u] = (hi[u] + lo[u]) * pred_dir[u]
        p = parent[u]
        s = hi[p] + hi[u]
        t = s - hi[p]
        err = (hi[p] - (s - t)) + (hi[u] - t) + lo[p] + lo[u]
        hi[p] = s + err
        lo[p] = err - (hi[p] - s)
        u = rev_thread[u]


@njit(cache=True, nogil=True)
def network_simplex(M, a, b, art_cost, art_max, threshold_rel, flow_tol, block, maxiter):
    """Solve min <P, M> over P >= 0 with P 1 = a, P^T 1 = b (all weights positive, M >= 0).

    The artificial arcs start at cost ``art_cost``; where the optimal basis still sends
    more than ``flow_tol`` through them, their cost is raised fourfold (up to
    ``art_max``, above the cost of every alternating path: min(n, m) max M) and the
    pivots go on from that basis. A small artificial cost keeps the potentials, and so
    their rounding, small. Arcs enter when their reduced cost is below ``-threshold``,
    ``threshold_rel`` times the current artificial cost. Returns ``(rows, cols,
    values, pi, artificial_flow, nit, status)``: the real tree arcs and their flows
    (recomputed from the supplies), potentials (sources 0..n-1, sinks n..n+m-1, the
    reduced cost of arc (i, j) is M_ij + pi_i - pi_{n+j} >= -threshold), the largest
    flow left on an artificial arc, the number of pivots and OPTIMAL/MAXITER/UNBOUNDED.
    """
    n, m = M.shape
    N = n + m
    root = N
    nm = n * m
    parent = np.empty(N + 1, np.int64)
    pred = np.empty(N + 1, np.int64)
    pred_dir = np.empty(N + 1, np.int64)
    thread = np.empty(N + 1, np.int64)
    rev_thread = np.empty(N + 1, np.int64)
    succ_num = np.empty(N + 1, np.int64)
    last_succ = np.empty(N + 1, np.int64)
    pi = np.empty(N + 1)
    flow = np.zeros(N + 1)
    supply = np.empty(N + 1)
    dirty = np.empty(N + 1, np.int64)
    state = np.ones(nm, np.int8)
    supply[:n] = a
    supply[n:N] = -b
    supply[root] = 0.0

    parent[root] = -1
    pred[root] = -1
    pred_dir[root] = 0
    thread[root] = 0
    rev_thread[0] = root
    succ_num[root] = N + 1
    last_succ[root] = N - 1
    pi[root] = 0.0
    for u in range(N):
        parent[u] = root
        pred[u] = nm + u
        thread[u] = u + 1
        rev_thread[u + 1] = u
        succ_num[u] = 1
        last_succ[u] = u
        if u < n:  # source -> root, cost 0
            pred_dir[u] = _UP
            pi[u] = 0.0
            flow[u] = a[u]
        else:  # root -> sink, cost art_cost
            pred_dir[u] = _DOWN
            pi[u] = art_cost
            flow[u] = b[u - n]

    status = OPTIMAL
    nit = 0
    start = 0
    refreshed = False
    threshold = threshold_rel * art_cost
    while True:
        in_arc, start = _find_entering(M, pi, state, n, m, block, start, threshold)
        if in_arc < 0:
            if refreshed:
                if art_cost >= art_max:
                    break
                stuck = False
                for u in range(N):
                    if pred[u] >= nm and flow[u] > flow_tol:
                        stuck = True
                        break
                if not stuck:
                    break
                # mass still goes through the root: the artificial cost is too small
                art_cost = min(4.0 * art_cost, art_max)
                threshold = threshold_rel * art_cost
                _tree_potentials(pi, M, n, m, art_cost, parent, pred, pred_dir, thread, root)
                continue
            # confirm optimality on potentials free of accumulated rounding
            _tree_potentials(pi, M, n, m, art_cost, parent, pred, pred_dir, thread, root)
            refreshed = True
            continue
        refreshed = False
        if nit >= maxiter:
            status = MAXITER
            break
        first = in_arc // m
        second = n + in_arc - first * m
        # apex of the cycle: climb from the side with the smaller subtree
        u = first
        v = second
        while u != v:
            if succ_num[u] < succ_num[v]:
                u = parent[u]
            else:
                v = parent[v]
        join = u
        # leaving arc: flow goes join -> first (down) and second -> join (up); the
        # blocking arcs are those it runs against. Ties: the last one met from the apex
        # in the direction of the flow ('<' on the first side, '<=' on the second).
        delta = np.inf
        u_out = -1
        side = 0
        u = first
        while u != join:
            if pred_dir[u] == _UP and flow[u] < delta:
                delta = flow[u]
                u_out = u
                side = 1
            u = parent[u]
        u = second
        while u != join:
            if pred_dir[u] == _DOWN and flow[u] <= delta:
                delta = flow[u]
                u_out = u
                side = 2
            u = parent[u]
        if side == 0:
            status = UNBOUNDED
            break
        if side == 1:
            u_in = first
            v_in = second
        else:
            u_in = second
            v_in = first
        if delta > 0:
            u = first
            while u != join:
                flow[u] -= pred_dir[u] * delta
                u = parent[u]
            u = second
            while u != join:
                flow[u] += pred_dir[u] * delta
                u = parent[u]
        state[in_arc] = 0
        out_arc = pred[u_out]
        if out_arc < nm:
            state[out_arc] = 1
        nit += 1

        # ---- move the subtree of u_out under v_in, re-rooted at u_in ----
        old_rev_thread = rev_thread[u_out]
        old_succ_num = succ_num[u_out]
        old_last_succ = last_succ[u_out]
        v_out = parent[u_out]
        if u_in == u_out:
            parent[u_in] = v_in
            pred[u_in] = in_arc
            pred_dir[u_in] = _UP if u_in == first else _DOWN
            flow[u_in] = delta
            if thread[v_in] != u_out:
                after = thread[old_last_succ]
                thread[old_rev_thread] = after
                rev_thread[after] = old_rev_thread
                after = thread[v_in]
                thread[v_in] = u_out
                rev_thread[u_out] = v_in
                thread[old_last_succ] = after
                rev_thread[after] = old_last_succ
        else:
            thread_continue = (thread[old_last_succ] if old_rev_thread == v_in
                               else thread[v_in])
            stem = u_in
            par_stem = v_in
            last = last_succ[u_in]
            after = thread[last]
            thread[v_in] = u_in
            ndirty = 0
            dirty[ndirty] = v_in
            ndirty += 1
            while stem != u_out:
                next_stem = parent[stem]
                thread[last] = next_stem
                dirty[ndirty] = last
                ndirty += 1
                before = rev_thread[stem]
                thread[before] = after
                rev_thread[after] = before
                parent[stem] = par_stem
                par_stem = stem
                stem = next_stem
                last = (rev_thread[par_stem] if last_succ[stem] == last_succ[par_stem]
                        else last_succ[stem])
                after = thread[last]
            parent[u_out] = par_stem
            thread[last] = thread_continue
            rev_thread[thread_continue] = last
            last_succ[u_out] = last
            if old_rev_thread != v_in:
                thread[old_rev_thread] = after
                rev_thread[after] = old_rev_thread
            for k in range(ndirty):
                w = dirty[k]
                rev_thread[thread[w]] = w
            # the stem arcs now hang below the other end: pred, direction, flow,
            # subtree sizes and last successors move down one node
            tmp_sc = 0
            tmp_ls = last_succ[u_out]
            u = u_out
            p = parent[u]
            while u != u_in:
                pred[u] = pred[p]
                pred_dir[u] = -pred_dir[p]
                flow[u] = flow[p]
                tmp_sc += succ_num[u] - succ_num[p]
                succ_num[u] = tmp_sc
                last_succ[p] = tmp_ls
                u = p
                p = parent[u]
            pred[u_in] = in_arc
            pred_dir[u_in] = _UP if u_in == first else _DOWN
            flow[u_in] = delta
            succ_num[u_in] = old_succ_num

        up_limit_out = join if last_succ[join] == v_in else -1
        last_succ_out = last_succ[u_out]
        u = v_in
        while u != -1 and last_succ[u] == v_in:
            last_succ[u] = last_succ_out
            u = parent[u]
        if join != old_rev_thread and v_in != old_rev_thread:
            u = v_out
            while u != up_limit_out and last_succ[u] == old_last_succ:
                last_succ[u] = old_rev_thread
                u = parent[u]
        elif last_succ_out != old_last_succ:
            u = v_out
            while u != up_limit_out and last_succ[u] == old_last_succ:
                last_succ[u] = last_succ_out
                u = parent[u]
        u = v_in
        while u != join:
            succ_num[u] += old_succ_num
            u = parent[u]
        u = v_out
        while u != join:
            succ_num[u] -= old_succ_num
            u = parent[u]

        # ---- potentials of the moved subtree ----
        sigma = pi[v_in] - pi[u_in] - pred_dir[u_in] * M[first, second - n]
        end = thread[last_succ[u_in]]
        u = u_in
        while u != end:
            pi[u] += sigma
            u = thread[u]

    if not refreshed:
        _tree_potentials(pi, M, n, m, art_cost, parent, pred, pred_dir, thread, root)
    _tree_flows(flow, supply, parent, pred_dir, rev_thread, root)
    count = 0
    artificial = 0.0
    for u in range(N):
        if pred[u] < nm:
            count += 1
        elif abs(flow[u]) > artificial:
            artificial = abs(flow[u])
    rows = np.empty(count, np.int64)
    cols = np.empty(count, np.int64)
    values = np.empty(count)
    k = 0
    for u in range(N):
        e = pred[u]
        if e < nm:
            rows[k] = e // m
            cols[k] = e % m
            values[k] = max(flow[u], 0.0)
            k += 1
    return rows, cols, values, pi[:N].copy(), artificial, nit, status


@njit(cache=True, nogil=True)
def max_dual_violation(M, f, g):
    """max_ij (f_i + g_j - M_ij): positive where the potentials are not dual feasible."""
    n, m = M.shape
    worst = -np.inf
    for i in range(n):
        fi = f[i]
        for j in range(m):
            d = fi + g[j] - M[i, j]
            if d > worst:
                worst = d
    return worst
