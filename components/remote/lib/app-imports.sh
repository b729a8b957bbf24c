#!/bin/bash
# What the app imports, read from its code, and whether the venv can import it.
# Inlined after lib.sh (commands.ts SCRIPT_HELPERS) into release.sh.

export AI4ARTSED_APP_IMPORTS_LIB=1

# app_imports_program: a Python program, for the venv's `python -I -B - ENTRY...`, that follows
# the app's own modules from each entry script (the way `python server.py` in the script's
# directory finds them), collects the other modules they import, and imports those. An import at
# module level outside a try block runs at start: its failure is printed as
# `required <module>: <error>` and fails the program. An import inside a function or a try block
# (lazy or optional) runs later or may fail on purpose: its failure is printed as
# `optional <module>: <error>` only. Modules named in APP_IMPORTS_KNOWN (imported before from
# this venv) are not imported again. The last line lists those that import: `@@imported a b c`.
app_imports_program() {
  cat <<'PY'
import ast, importlib, os, sys

def handles_import_errors(node):
    for handler in node.handlers:
        names = [handler.type] if not isinstance(handler.type, ast.Tuple) else handler.type.elts
        if handler.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for n in names):
            return True
    return False

def imports_of(tree):
    """(dotted name, level, names imported from it, at start?) for every import statement."""
    found = []
    def visit(node, at_start):
        for child in ast.iter_child_nodes(node):
            start = at_start
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                start = False
            elif isinstance(child, ast.Try) and handles_import_errors(child):
                for part in child.body:
                    visit_one(part, False)
                for part in child.handlers + child.orelse + child.finalbody:
                    visit_one(part, start)
                continue
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            visit_one(child, start)
    def visit_one(child, start):
        if isinstance(child, ast.Import):
            found.extend((alias.name, 0, [], start) for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            found.append((child.module or "", child.level, [a.name for a in child.names], start))
        else:
            visit(child, start)
    visit(tree, True)
    return found

def module_file(base, dotted):
    path = os.path.join(base, *dotted.split("."))
    for candidate in (path + ".py", os.path.join(path, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return path if os.path.isdir(path) else None  # a namespace package

external = {}  # top-level module -> imported at start?
seen = {}      # local file -> reached at start?
queue = []

def reach(path, at_start):
    if path is None or not path.endswith(".py") or seen.get(path, False) or (path in seen and not at_start):
        return
    seen[path] = at_start
    queue.append((path, at_start))

for entry in sys.argv[1:]:
    reach(os.path.abspath(entry), True)
roots = {os.path.dirname(os.path.abspath(entry)) for entry in sys.argv[1:]}

while queue:
    path, module_at_start = queue.pop()
    base = next(r for r in roots if path.startswith(r + os.sep))
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
    except (SyntaxError, UnicodeDecodeError, OSError):
        continue  # byte-compiling the release reports syntax errors
    for dotted, level, names, at_start in imports_of(tree):
        at_start = at_start and module_at_start
        if level:
            package = os.path.dirname(path)
            for _ in range(level - 1):
                package = os.path.dirname(package)
            target = os.path.join(package, *dotted.split(".")) if dotted else package
            reach(module_file(package, dotted) if dotted else os.path.join(package, "__init__.py"), at_start)
            for name in names:
                reach(module_file(target, name), at_start)
            continue
        top = dotted.split(".")[0]
        if module_file(base, top) is not None:  # the app's own module
            parts = dotted.split(".")
            for depth in range(1, len(parts) + 1):
                reach(module_file(base, ".".join(parts[:depth])), at_start)
            for name in names:
                reach(module_file(base, f"{dotted}.{name}"), at_start)
        elif top and top not in sys.stdlib_module_names and top != "__future__":
            external[top] = external.get(top, False) or at_start

known = set(os.environ.get("APP_IMPORTS_KNOWN", "").split())
failed, imported = False, []
for module in sorted(external):
    if module in known:
        imported.append(module)
        continue
    try:
        importlib.import_module(module)
        imported.append(module)
    except BaseException as exc:  # a failing import may raise anything, SystemExit included
        kind = "required" if external[module] else "optional"
        failed = failed or external[module]
        print(f"{kind} {module}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
print("@@imported " + " ".join(imported))
sys.exit(1 if failed else 0)
PY
}
