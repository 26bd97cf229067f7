"""The order of the house, written once: which module may import which.

Calls only go down. A module may import the kernel and any module in a lower layer; never a module
in its own layer (sideways) or above it. Where a lower page must show something a higher module
owns (the event page's registration panel, the organisers' links), the lower module declares a
signal and the higher one connects to it (see each module's ``signals.py``).

``tests/test_architecture.py`` reads every import in ``webinar_mgr/`` and fails on any import
that breaks this order, on a view importing another module's views, and on an import inside a
function without a comment saying why. ``create_app`` registers the modules in this order.
"""

from __future__ import annotations

# Shared by every module: configuration, errors, time, access policies, language and zones,
# tokens, CSV, the unit of work, links, forms, the audit trail and the small core (home page,
# settings, two-step uploads). Kernel files import one another freely, never a domain module.
KERNEL = frozenset(
    {
        "extensions",
        "errors",
        "clock",
        "security",
        "i18n",
        "tokens",
        "text",
        "csvio",
        "persistence",
        "links",
        "forms_common",
        "exports",
        "pdfs",
        "templating",
        "jobs",
        "layers",
        "core",
        "audit",
        "pages",
    }
)

# Domain modules, lowest first; modules on one line are side by side and do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mail", "directory"),
    ("auth",),
    ("events",),
    ("invitations",),
    ("registrations",),
    ("commitments", "attendance"),
    ("workplan", "questions", "messages"),
    ("reports", "privacy"),
    ("api",),
)

# The application's wiring (create_app, the top-level commands) sits above everything.
WIRING = frozenset({"__init__", "cli"})

#: Packages with a blueprint, models, commands or demo data, in the order create_app loads them.
MODULES: tuple[str, ...] = ("core", "audit") + tuple(m for layer in LAYERS for m in layer)


def layer_of(module: str) -> int:
    """0 for the kernel, 1.. for the domain layers, above all of them for the wiring."""
    if module in KERNEL:
        return 0
    for n, layer in enumerate(LAYERS, start=1):
        if module in layer:
            return n
    if module in WIRING:
        return len(LAYERS) + 1
    raise KeyError(f"{module!r} is in no layer: add it to webinar_mgr/layers.py")


def may_import(importer: str, imported: str) -> bool:
    """True when ``importer`` may import ``imported`` under the rule above."""
    if importer == imported or (importer in WIRING and imported in WIRING):
        return True
    a, b = layer_of(importer), layer_of(imported)
    if a == 0:
        return b == 0
    return b < a
