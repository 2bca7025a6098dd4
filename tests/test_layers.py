"""The package's layers: a module imports only its own layer and lower ones, and no modules import each other."""

from pathlib import Path

from labeltransfer.code_version import imported_modules

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "labeltransfer"
#: The package's layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = [{"", "code_version", "logs"}, {"data"}, {"io"}, {"xp"}, {"sources"}, {"evaluation"}, {"methods"},
          {"diagnostics"}, {"survey"}, {"pipeline"}, {"cli"}]


def _modules(package):
    """Dotted name -> file of every module of the package in folder ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(package=PACKAGE):
    """Dotted module name -> the package's modules it imports (names resolved to modules)."""
    modules = _modules(package)
    graph = {}
    for name, path in modules.items():
        own = name + ".__init__" if path.name == "__init__.py" else name
        graph[name] = {imported if imported in modules else imported.rsplit(".", 1)[0]
                       for imported in imported_modules(path, own) if imported.startswith("labeltransfer")}
        graph[name] = {m for m in graph[name] if m in modules and m != name}
    return graph


def _layer(module):
    """Index in LAYERS of a module's top-level part below the package."""
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, members in enumerate(LAYERS) if top in members)


def test_every_subpackage_and_top_level_module_has_a_layer():
    tops = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    assert tops - {"__init__"} <= set().union(*LAYERS), "give each new subpackage a place in LAYERS"


def upward_imports(package=PACKAGE):
    """``"<module> imports <module>"`` for every import of a module from a higher layer."""
    return [f"{module} imports {imported}" for module, imports in _imports(package).items() for imported in imports
            if _layer(imported) > _layer(module)]


def import_cycles(package=PACKAGE):
    """Every import cycle among the package's modules, as ``a -> b -> a``."""
    graph = _imports(package)
    state, cycles = {}, []

    def visit(module, trail):
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join(trail[trail.index(imported):] + [imported]))
            elif imported not in state:
                visit(imported, trail + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_module_imports_from_a_higher_layer():
    assert not (upward := upward_imports()), "\n".join(upward)


def test_no_import_cycle():
    assert not (cycles := import_cycles()), "\n".join(cycles)


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path):
    """Both checks fail on a copy of the package with an upward import and a cycle added."""
    import shutil

    copy = tmp_path / "labeltransfer"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    for path, line in ((copy / "data" / "spectra.py", "from ..survey import catalogue"),
                       (copy / "logs.py", "from . import code_version"),
                       (copy / "code_version.py", "from . import logs")):
        path.write_text(path.read_text() + f"\n{line}\n")
    assert set(upward_imports(copy)) == {f"labeltransfer.data.spectra imports labeltransfer.survey{module}"
                                         for module in ("", ".catalogue")}
    assert import_cycles(copy) == ["labeltransfer.code_version -> labeltransfer.logs -> labeltransfer.code_version"]
