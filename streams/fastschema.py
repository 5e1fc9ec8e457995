"""A fast yes/no schema check for the hot path (jsonschema-rs, compiled Rust), in front of the
reference validator in streams/validation.py.

Only a "valid" answer is taken from it. Anything it rejects goes through the reference
validator, which decides and explains, so error messages and dead-letter reasons stay exactly
those of streams/validation.py. tests/unit/test_fastschema.py checks that the two agree.
Validating an enriched article costs ~1 ms in Python and a few µs here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from .validation import SCHEMA_DIR, SCHEMA_FILES


@cache
def _compiled(kind: str) -> jsonschema_rs.Draft202012Validator:
    schema = orjson.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_bytes())
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def surely_valid(kind: str, message: Any) -> bool:
    """True only if the message is valid; False means "ask the reference validator"."""
    return bool(_compiled(kind).is_valid(message))
