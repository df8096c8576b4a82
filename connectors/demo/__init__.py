"""Demo source: a deterministic, realistic French SME ledger (and its JSON form)."""

from connectors.demo.generator import (
    LEDGER_FORMAT,
    generate_ledger,
    ledger_to_json,
    write_ledger_json,
)

__all__ = ["LEDGER_FORMAT", "generate_ledger", "ledger_to_json", "write_ledger_json"]
