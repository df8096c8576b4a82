"""Load the addon's Odoo-free modules without importing the addon package (which needs Odoo)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ADDON = Path(__file__).resolve().parents[2] / "odoo_addon_relance"


def load_mapping() -> ModuleType:
    return load_addon_module("mapping")


def load_addon_module(stem: str) -> ModuleType:
    """One of the addon's Odoo-free modules (mapping, bulk), loaded from its file."""
    name = f"relance_odoo_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ADDON / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
