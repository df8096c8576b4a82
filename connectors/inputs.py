"""Reading the user's files: JSON ledgers and TOML configs, with errors that name the file."""

from __future__ import annotations

import gc
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from core.config import Config, load_config
from core.errors import InputError
from core.ledger import ledger_problems
from core.ledger_json import decode_ledger
from core.model import Ledger
from core.texts import template_ids


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror}", file=str(path)) from None


def read_json(path: Path) -> Any:
    data = read_bytes(path)
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise InputError(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            file=str(path),
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InputError(f"not valid JSON: {error}", file=str(path)) from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", file=str(path)) from None


def open_ledger(path: Path) -> Ledger:
    data = read_bytes(path)
    # The cyclic garbage collector would walk the growing ledger again and
    # again while it is built; nothing built here forms cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return decode_ledger(data)
    except InputError as error:
        raise error.located(str(path)) from None
    finally:
        del data
        # The ledger lives as long as the command: move it out of the
        # collector's sight instead of having it walked again and again.
        gc.freeze()
        if collecting:
            gc.enable()


def open_config(path: Path | None) -> Config:
    if path is None:
        return load_config(None, template_ids())
    from connectors.settings import DAEMON_KEYS

    # A daemon config (store, delivery, companies, ...) plans with its core part;
    # `relance validate --config` checks the rest.
    data = {k: v for k, v in read_toml(path).items() if k not in DAEMON_KEYS}
    try:
        return load_config(data, template_ids())
    except InputError as error:
        raise error.located(str(path)) from None


def ledger_file_problems(path: Path) -> list[InputError]:
    try:
        document = read_json(path)
    except InputError as error:
        return [error]
    return [problem.located(str(path)) for problem in ledger_problems(document)]


def config_file_problems(path: Path) -> list[InputError]:
    """Every problem of a config: core's keys (plans, segments, rates, texts) and, in a
    daemon config, the store, delivery, companies and secrets."""
    from connectors.settings import settings_problems  # the daemon's, loaded only here

    try:
        read_toml(path)
    except InputError as error:
        return [error]
    return [problem.located(str(path)) for problem in settings_problems(path, os.environ)]
