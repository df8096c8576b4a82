"""The fake Pennylane server for every test here (``pennylane_fake`` importable as a module)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from pennylane_fake import FakePennylane, serve_fake  # noqa: E402
from sync_support import TOKEN  # noqa: E402


@pytest.fixture
def fake() -> Iterator[tuple[FakePennylane, str]]:
    """A fake with the real bound (25 requests / 5 s) and a token holding every scope."""
    for server, url in serve_fake():
        server.token(TOKEN)
        yield server, url


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    """Each test has its own fake server, hence its own rate windows: forget the last test's."""
    from connectors.pennylane import ratelimit

    ratelimit._LIMITERS.clear()
    yield
    ratelimit._LIMITERS.clear()
