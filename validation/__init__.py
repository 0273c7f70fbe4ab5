"""Accuracy checks and reference sets (never speed; see docs/architecture.md)."""
