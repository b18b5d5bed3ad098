"""The package's import graph: no circles, and the layers run one way."""

import ast

from bnbook.paths import PACKAGE_DIR


def module_imports() -> dict[str, set[str]]:
    """{module: the bnbook modules it imports at module level}, as dotted names."""
    graph = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        found = set()
        for node in ast.parse(path.read_text()).body:  # module level only: lazy imports differ
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("bnbook")
            ):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    is_module = (PACKAGE_DIR.parent / (full.replace(".", "/") + ".py")).exists()
                    found.add(full if is_module else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("bnbook")}
        graph[name] = found - {name}
    return graph


def test_no_module_imports_itself_through_others():
    graph = module_imports()

    def reaches(start, goal, seen):
        for nxt in graph.get(start, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, goal, seen):
                    return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, set()))
    assert not circles, f"import circles through {circles}"


def test_networks_import_nothing_from_runs_or_presentation():
    for module, imports in module_imports().items():
        if module.startswith("bnbook.networks"):
            bad = {i for i in imports if i.startswith(("bnbook.runs", "bnbook.presentation"))}
            assert not bad, f"{module} imports {bad}"
