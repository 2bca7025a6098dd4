"""Write config/README.md, the reference of every config key, from the schema's descriptions.

    python workflow/schemas/make_reference.py > config/README.md

``tests/test_workflow_static.py`` fails when config/README.md differs from what this prints.
"""

import importlib.util
import json
from pathlib import Path

import yaml

SCHEMA = Path(__file__).with_name("config.schema.yaml")
#: The table of method kinds, read by path as the workflow reads it (standard library only).
KINDS_FILE = Path(__file__).resolve().parents[2] / "src" / "labeltransfer" / "methods" / "kinds.py"
HEADER = """# Config reference

Every key of the workflow's config, generated from `workflow/schemas/config.schema.yaml`
(`python workflow/schemas/make_reference.py > config/README.md`). The config is validated
against that schema at start-up: an unknown key, a wrong type or a value out of range stops
the run naming the key. A `--configfile` is merged into `config/config.yaml`: mappings are
extended key by key, lists and values replaced.
"""


def _resolve(node, defs):
    """The node with its ``$ref`` (one level, ``#/$defs/<name>``) merged in."""
    if "$ref" not in node:
        return node
    target = defs[node["$ref"].rsplit("/", 1)[1]]
    return {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}


def _kind(node):
    """A short type text: the JSON type(s), or the allowed values."""
    if "enum" in node:
        return " / ".join(f"`{value}`" for value in node["enum"])
    kinds = node.get("type", "")
    kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if kinds == "array" and "type" in node.get("items", {}):
        kinds = f"array of {node['items']['type']}"
    bounds = [f"{sign} {node[key]}" for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                       ("maximum", "<="), ("exclusiveMaximum", "<")) if key in node]
    return ", ".join([kinds] + bounds) if kinds else ", ".join(bounds)


def _rows(node, defs, path):
    """(key path, type, default, description) of ``node`` and of every key below it."""
    node = _resolve(node, defs)
    rows = [] if not path else [(path, _kind(node), node.get("default", ""), " ".join(str(node.get("description",
                                                                                                     "")).split()))]
    for key, child in node.get("properties", {}).items():
        rows += _rows(child, defs, f"{path}.{key}" if path else key)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        rows += _rows(extra, defs, f"{path}.<name>")
    return rows


def _kinds():
    """``labeltransfer.methods.kinds.KINDS``: method type -> what it is and can do."""
    spec = importlib.util.spec_from_file_location("labeltransfer_kinds", KINDS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.KINDS


def _type_parameters(method_type, kind, defs):
    """The lines of one method type's parameters: its ``<type>_params`` of the schema, if it has one."""
    lines = [f"### `{method_type}`", ""]
    if f"{method_type}_params" not in defs:
        return lines + [f"{kind.summary}: the parameters of `labeltransfer.methods.{kind.module}.{kind.cls}` "
                        "(its docstring); the schema does not list them: an unknown one stops the training job, named.", ""]
    params = _resolve(defs[f"{method_type}_params"], defs)
    lines += [str(params.get("description", "")), "", "| parameter | type | what it is |", "|---|---|---|"]
    for name, child in params["properties"].items():
        child = _resolve(child, defs)
        lines.append(f"| `{name}` | {_kind(child)} | {' '.join(str(child.get('description', '')).split())} |")
    return lines + [""]


def reference():
    """The text of config/README.md."""
    schema = yaml.safe_load(SCHEMA.read_text())
    defs = schema["$defs"]
    kinds = _kinds()
    # the schema leaves the method types to KINDS (the workflow checks them at start-up): listed here
    defs["method"]["properties"]["type"]["enum"] = list(kinds)
    lines = [HEADER, "| key | type | default | what it is |", "|---|---|---|---|"]
    required = set(schema.get("required", []))
    for path, kind, default, text in _rows(schema, defs, ""):
        shown = "" if default == "" else f"`{json.dumps(default)}`"
        mark = " (required)" if path in required else ""
        lines.append(f"| `{path}`{mark} | {kind} | {shown} | {text} |")
    lines += ["", "## Parameters of each method type (`method_settings.<name>.params`)", "",
              "The types are those of `src/labeltransfer/methods/kinds.py` (docs/methods.md).", ""]
    for method_type, kind in kinds.items():
        lines += _type_parameters(method_type, kind, defs)
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference(), end="")
