"""The rule language: spec and validation, stems, the compiled matcher, hits, backtests, rule messages."""
