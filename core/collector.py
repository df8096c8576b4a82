"""Pausing the cyclic garbage collector around the engine's hot loops.

A run allocates a few hundred thousand small containers (metric mappings,
assignments, candidate tuples) that live until it ends; the collector would
walk them again and again while they accumulate, for nothing: the engine makes
no reference cycles.  Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (restored after, even on error)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
