"""Which source files of the package a workflow script runs, and their digest.

Every rule passes the digest of the package files its script imports (followed through the
package, each parent ``__init__`` included) as a param, so that Snakemake reruns a rule's jobs
when the code they run changes, and only then.
"""

import ast
import hashlib
from pathlib import Path

__all__ = ["imported_modules", "package_files", "run_imports", "code_digest"]

PACKAGE = "labeltransfer"
#: The folder that holds the package (``src/``).
SRC = Path(__file__).resolve().parents[1]


def _reached(tree, names):
    """The statements of a module that run when ``names`` of it are used (all of them where
    ``names`` is None), and the names they use: its module-level imports and expressions, and the
    definitions and assignments reachable by name from those and from ``names``."""
    if names is None:
        return [tree], None
    named = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            named[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                named.update({n.id: node for n in ast.walk(target) if isinstance(n, ast.Name)})
    reached = [node for node in tree.body if node not in named.values()]
    wanted, seen = set(names), set()
    for node in reached:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            wanted |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        if name in named and named[name] not in reached:
            reached.append(named[name])
            wanted |= {n.id for n in ast.walk(named[name]) if isinstance(n, ast.Name)}
    return reached, wanted


def _imports(path, module="", names=None, registry=False):
    """(module, name) of each import the statements of :func:`_reached` make: ``import a`` gives
    (``a``, None), ``from a import b`` (``a``, ``b``), or (``a``, ``""``) where nothing reached uses
    ``b`` (``a`` runs, ``b`` is not called); relative imports resolved against ``module``. With
    ``registry``, a package's ``__init__`` that imports its modules by name there
    (``importlib.import_module``, as the methods' registry does) may run any module of its folder."""
    found, by_name = [], False
    statements, used = _reached(ast.parse(Path(path).read_text()), names)
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                found += [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = module.split(".")[: -node.level]
                    base = ".".join(parent + ([node.module] if node.module else []))
                found += [(base, alias.name if used is None or (alias.asname or alias.name) in used else "")
                          for alias in node.names]
            elif isinstance(node, ast.Attribute) and node.attr == "import_module":
                by_name = True
    if registry and by_name and Path(path).name == "__init__.py":
        package = module.removesuffix(".__init__")
        found += [(f"{package}.{sibling.stem}", None) for sibling in sorted(Path(path).parent.glob("*.py"))
                  if sibling.name != "__init__.py"]
    return found


def imported_modules(path, module=""):
    """Absolute names of the modules a Python file imports.

    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module or a name in ``a``);
    relative imports are resolved against ``module``, the file's own dotted name.
    """
    return [name for base, imported in _imports(path, module)
            for name in ([base] if not imported else [base, f"{base}.{imported}"])]


def _module_file(name, src):
    """The file of a dotted module name under ``src``, or None where it is not a module."""
    base = Path(src, *name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _follow(script, src):
    """(files, imports): the package's files that ``script`` runs, and every module name the statements
    that run import (the package's and others'); see :func:`package_files`."""
    followed, found, imports, queue = {}, set(), set(), [(Path(script), "", None)]
    while queue:
        path, module, names = queue.pop()
        for base, imported in _imports(path, module, names, registry=True):
            imports.add(base)
            if base.split(".")[0] != PACKAGE:
                continue
            whole = imported is None or (imported != "" and _module_file(f"{base}.{imported}", src) is not None)
            target = base if imported is None else f"{base}.{imported}" if whole else base
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # every parent package's __init__ runs too
                dotted = ".".join(parts[:i])
                file = _module_file(dotted, src)
                if file is None:
                    continue
                # a module imported whole runs whole; a parent package runs its module-level statements;
                # from a module (a package's __init__ too) a name runs what that name reaches
                wanted = None if whole and dotted == target else set() if dotted != target else {imported} - {""}
                if file in followed and (followed[file] is None or (wanted is not None and wanted <= followed[file])):
                    continue
                followed[file] = None if wanted is None else followed.get(file, set()) | wanted
                found.add(file)
                queue.append((file, dotted + (".__init__" if file.name == "__init__.py" else ""), followed[file]))
    return sorted(found), imports


def package_files(script, src=SRC):
    """The package's source files that ``script`` runs: its imports of the package, followed.

    ``from a import f`` follows what of ``a`` runs when ``f`` is used (its module-level statements
    and the definitions ``f`` reaches, :func:`_reached`), not every function of ``a``: a figure
    function beside a training one does not make training depend on the figure code. A package that
    imports its modules by name (the methods' registry) may run any of them.
    """
    return _follow(script, src)[0]


def run_imports(script, src=SRC):
    """Every module name that the statements ``script`` runs import, through the package
    (:func:`package_files`): what its environment must provide, the package aside."""
    return _follow(script, src)[1]


def code_digest(script, src=SRC):
    """sha256 (first 16 hex digits) of the package files that ``script`` runs."""
    digest = hashlib.sha256()
    for path in package_files(script, src):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
