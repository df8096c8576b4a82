"""The ``fec`` source: a FEC export (Fichier des Écritures Comptables) read as a ledger."""

from connectors.fec.parser import FEC_COLUMNS, parse_fec, parse_fec_bytes
from connectors.fec.source import FecSource

__all__ = ["FEC_COLUMNS", "FecSource", "parse_fec", "parse_fec_bytes"]
