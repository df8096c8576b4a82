"""The ``jsonfile`` source: a ``relance.ledger/1`` file, re-read whenever it changes."""

from connectors.jsonfile.source import JsonFileSource

__all__ = ["JsonFileSource"]
