"""Burst detection ("is something happening?"): pure code, no faust (docs/trends.md)."""
