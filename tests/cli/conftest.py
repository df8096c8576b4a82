"""Make ``tests/cli/cli_support.py`` importable whatever pytest's import mode; the
``relance`` fixture that runs the command line through ``main()``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from cli_support import VIA_SCRIPT, Result, exit_code, script  # noqa: E402


@pytest.fixture
def relance(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``relance ARGS...`` through ``connectors.cli.main()`` with a patched
    ``sys.argv`` (or through the console script when RELANCE_CLI_TESTS_VIA_SCRIPT=1)."""
    if VIA_SCRIPT:
        return script

    from connectors.cli import main

    def run(*args: Any) -> Result:
        monkeypatch.setattr(sys, "argv", ["relance", *map(str, args)])
        capsys.readouterr()
        try:
            main()
        except SystemExit as exited:
            code = exit_code(exited.code)
        else:
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
