"""Shipped reminder templates (package data, read by core.texts)."""
