"""Load the addon's mapping module without importing the addon package (which needs Odoo)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MAPPING_PATH = Path(__file__).resolve().parents[2] / "odoo_addon_relance" / "mapping.py"


def load_mapping() -> ModuleType:
    name = "relance_odoo_mapping"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, MAPPING_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
