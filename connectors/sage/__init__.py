"""Sage 100 (France, SQL Server edition) as a Relance source: see docs/sage.md."""
