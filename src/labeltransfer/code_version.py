"""Which source files of the package a workflow script runs, and their digest.

Every rule passes the digest of the package files its script imports (followed through the
package, each parent ``__init__`` included) as a param, so that Snakemake reruns a rule's jobs
when the code they run changes, and only then.
"""

import ast
import hashlib
from pathlib import Path

__all__ = ["imported_modules", "package_files", "code_digest"]

PACKAGE = "labeltransfer"
#: The folder that holds the package (``src/``).
SRC = Path(__file__).resolve().parents[1]


def imported_modules(path, module=""):
    """Absolute names of the modules a Python file imports.

    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module or a name in ``a``);
    relative imports are resolved against ``module``, the file's own dotted name.
    """
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _module_file(name, src):
    """The file of a dotted module name under ``src``, or None where it is not a module."""
    base = Path(src, *name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def package_files(script, src=SRC):
    """The package's source files that ``script`` runs: its imports of the package, followed."""
    found, queue = set(), [(Path(script), "")]
    while queue:
        path, module = queue.pop()
        for name in imported_modules(path, module):
            parts = name.split(".")
            if parts[0] != PACKAGE:
                continue
            for i in range(1, len(parts) + 1):  # every parent package's __init__ runs too
                dotted = ".".join(parts[:i])
                file = _module_file(dotted, src)
                if file is not None and file not in found:
                    found.add(file)
                    queue.append((file, dotted + (".__init__" if file.name == "__init__.py" else "")))
    return sorted(found)


def code_digest(script, src=SRC):
    """sha256 (first 16 hex digits) of the package files that ``script`` runs."""
    digest = hashlib.sha256()
    for path in package_files(script, src):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
