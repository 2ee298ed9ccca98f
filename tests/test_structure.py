"""The house rules that keep the packages alike (docs/contributing.rst): no import cycle,
the same rooms in every problem package, no solver attribute set from outside."""

import ast
import pathlib

import pytest

import numopt
from numopt._registry import PROBLEM_PACKAGES

ROOT = pathlib.Path(numopt.__file__).parent
ROOMS = ("__init__.py", "_api.py", "_validation.py", "_methods.py", "_demo.py",
         "_kernels_numba.py", "_kernels_cupy.py")


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module, level, target, is_package):
    """The absolute name of ``from <level dots><target> import ...`` in ``module``."""
    if level == 0:
        return target
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(module, path, known):
    """Every numopt module that ``module`` imports, at any depth of its code (an import
    inside a function still makes a cycle: it only hides it until the call)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module, is_package)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            # "import numopt.a.b" imports numopt, numopt.a and numopt.a.b
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and name.startswith("numopt"):
                found.add(name)
    return found


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def _graph(modules):
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    # a package's __init__ importing its own submodules is how a package is assembled,
    # not a cycle: a submodule is only in a cycle if it imports its package back
    for module in graph:
        if modules[module].name == "__init__.py":
            graph[module] = {m for m in graph[module] if not m.startswith(module + ".")}
    return graph


def test_no_import_cycle():
    cycles = _cycles(_graph(_modules()))
    assert not cycles, f"import cycles inside numopt: {cycles}"


def test_cycle_finder_finds_a_hidden_cycle(tmp_path):
    # the check itself: two modules that import each other, one inside a function
    graph = {"numopt.x._a": {"numopt.x._b"}, "numopt.x._b": {"numopt.x._a"},
             "numopt.x._c": {"numopt.x._a"}}
    assert _cycles(graph) == [["numopt.x._a", "numopt.x._b"]]
    package = tmp_path / "numopt" / "x"
    package.mkdir(parents=True)
    (package / "_a.py").write_text("def f():\n    from ._b import g\n")
    known = {"numopt.x._a", "numopt.x._b", "numopt.x"}
    assert _imports("numopt.x._a", package / "_a.py", known) == {"numopt.x._b"}


@pytest.mark.parametrize("package", PROBLEM_PACKAGES)
def test_every_problem_package_has_the_rooms(package):
    folder = ROOT / package
    missing = [room for room in ROOMS if not (folder / room).is_file()]
    assert not missing, f"numopt/{package} lacks {missing} (see docs/contributing.rst)"
    init = ast.parse((folder / "__init__.py").read_text())
    defined = [node.name for node in init.body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))
               and node.name not in ("__getattr__", "__dir__")]
    assert not defined, f"numopt/{package}/__init__.py defines {defined}: it re-exports only"


def _solver_classes(modules):
    """Names of the classes that follow the loop contract (init, check and a step)."""
    names = set()
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                if {"init", "check"} <= methods and methods & {"step", "step_many"}:
                    names.add(node.name)
    return names


def _callee(call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _builds_solver(callee, solver_classes):
    """A call to a solver class, or to a factory named ``..._solver`` (not the loop)."""
    return callee in solver_classes or (callee.lower().endswith("solver")
                                        and not callee.startswith("run_"))


def _outside_assignments(path, solver_classes, base=ROOT.parent):
    """``name.attr = ...`` where ``name`` holds a solver built in the same function."""
    found = []
    for func in ast.walk(ast.parse(path.read_text())):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        solvers = set()
        for node in ast.walk(func):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and _builds_solver(_callee(node.value), solver_classes)):
                solvers |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(func):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for target in targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id in solvers):
                    found.append(f"{path.relative_to(base)}:{node.lineno} "
                                 f"{target.value.id}.{target.attr} =")
    return found


def test_no_solver_attribute_is_set_after_construction():
    modules = _modules()
    solver_classes = _solver_classes(modules)
    assert "_JacobiSolver" in solver_classes  # the finder sees the toy solver
    found = sorted({line for path in modules.values()
                    for line in _outside_assignments(path, solver_classes)})
    assert not found, "solver settings assigned after construction: " + "; ".join(found)


def test_outside_assignment_finder_catches_one(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def run(b):\n    solver = _CGSolver(b)\n    solver.unit = 3\n"
                    "    fused = make_fused_solver(b)\n    fused.unit = 3\n")
    assert sorted(set(_outside_assignments(path, {"_CGSolver"}, base=tmp_path))) == [
        "probe.py:3 solver.unit =", "probe.py:5 fused.unit ="]
