"""The import layers of the product code: no circle anywhere, and every arrow points down.

Layers, top to bottom (STYLE.md, "Layers"); a module may import its own app and the layers below:

    1. config                              composition root: settings, URLs, WSGI, embedded run
    2. integrations, portal, platform_ops  interfaces (APIs, pages, admin, commands); never
                                           import each other
    3. notifications                       channels: the Telegram bot and its transport
    4. outbox                              events, deliveries, relay, engine, transports
    5. loyalty                             the domain: ledger, purchases, refunds
    6. core                                errors, problems, request context, logging, breaker

One arrow points up on purpose: the domain records the events announcing its changes through
``outbox.services.outbox_event_record``, in its own transaction (STYLE: "Domain ... records outbox
events through the one outbox service call, and knows nothing else of delivery").

Every import counts, function-level ones too. Importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``, so those packages are edges as well (except the importer's own ancestors, which
Python has initialised first). When the picture changes, change :data:`LAYERS` in the same commit.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Top to bottom; apps on one row are peers that must not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("config",),
    ("integrations", "portal", "platform_ops"),
    ("notifications",),
    ("outbox",),
    ("loyalty",),
    ("core",),
]

#: (importing app, imported module prefix): why the upward arrow is allowed.
ALLOWED_UPWARD = {
    ("loyalty", "outbox.services"): "the domain records its events through the one outbox call",
    ("portal", "integrations.services"): "API keys are the integration API's credentials; the "
    "portal manages them through its services",
    ("portal", "integrations.models"): "API keys are the integration API's credentials; the "
    "portal lists them (integrations has no key selector yet)",
}


def product_modules(root: Path, apps: Iterable[str]) -> dict[str, Path]:
    """Dotted name -> file of every module of ``apps`` (migrations are generated: left out)."""
    modules: dict[str, Path] = {}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            if "migrations" in relative.parts:
                continue
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported_names(path: Path, module: str) -> set[str]:
    """Every dotted name the module imports, relative imports resolved, at any depth."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            for alias in node.names:
                # ``from a import b`` may import the module a.b or the name b of module a.
                names.add(f"{prefix}.{alias.name}")
                names.add(prefix)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the product modules its imports run."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for name in _imported_names(path, module):
            parts = name.split(".")
            # The longest prefix that is one of our modules is what gets imported...
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in modules:
                    targets.add(candidate)
                    # ...after its packages' __init__, except the importer's own ancestors.
                    for up in range(1, end):
                        parent = ".".join(parts[:up])
                        if parent in modules and not module.startswith(parent + "."):
                            targets.add(parent)
                    break
        targets.discard(module)
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_arrows(
    graph: dict[str, set[str]],
    layers: list[tuple[str, ...]],
    allowed: dict[tuple[str, str], str],
) -> list[str]:
    """Imports of a higher layer or of a peer app, as ``importer -> imported`` lines."""
    rank = {app: row for row, apps in enumerate(layers) for app in apps}
    wrong = []
    for module, targets in sorted(graph.items()):
        app = module.split(".")[0]
        # A package imported on the way to one of its modules is the same arrow: name it once.
        named = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
        for target in sorted(named):
            other = target.split(".")[0]
            if other == app:
                continue
            if any(
                app == a and (target == prefix or target.startswith(prefix + "."))
                for a, prefix in allowed
            ):
                continue
            if rank[other] <= rank[app]:
                kind = "peer" if rank[other] == rank[app] else "upward"
                wrong.append(f"{module} -> {target} ({kind})")
    return wrong


def _apps() -> list[str]:
    return [app for row in LAYERS for app in row]


def test_every_product_package_has_a_layer():
    packaged = {
        path.parent.name
        for path in REPO_ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    assert packaged == set(_apps()), "add the new package to LAYERS (or remove the stray one)"


def test_no_import_circle():
    graph = import_graph(product_modules(REPO_ROOT, _apps()))
    assert circles(graph) == []


def test_imports_point_down_only():
    graph = import_graph(product_modules(REPO_ROOT, _apps()))
    assert upward_arrows(graph, LAYERS, ALLOWED_UPWARD) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("style", ["module level", "function level", "relative"])
def test_the_checks_catch_a_circle_and_an_upward_arrow(tmp_path, style):
    """The checks themselves: a deliberate circle and a deliberate upward import are found."""
    back = {
        "module level": "from top.views import page\n",
        "function level": "def f():\n    from top.views import page\n",
        "relative": "from ..views import page\n",
    }[style]
    _write(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/views.py": "from bottom.models import Row\nfrom top.helpers import x\n",
            "top/helpers/__init__.py": "",
            "top/helpers/x.py": back if style == "relative" else "",
            "bottom/__init__.py": "",
            "bottom/models.py": back if style != "relative" else "",
        },
    )
    graph = import_graph(product_modules(tmp_path, ["top", "bottom"]))
    layers = [("top",), ("bottom",)]
    if style == "relative":
        assert circles(graph) == [["top.helpers.x", "top.views"]]
        assert upward_arrows(graph, layers, {}) == []
        peers = ["top.views -> bottom.models (peer)"]
    else:
        assert circles(graph) == [["bottom.models", "top.views"]]
        assert upward_arrows(graph, layers, {}) == ["bottom.models -> top.views (upward)"]
        assert upward_arrows(graph, layers, {("bottom", "top.views"): "why"}) == []
        peers = ["bottom.models -> top.views (peer)", "top.views -> bottom.models (peer)"]
    assert upward_arrows(graph, [("top", "bottom")], {}) == peers
