"""The gazetteer is data: check its shape, so a YAML surprise (an unquoted NO read as false)
cannot slip a bogus region code into alerts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[3] / "streams" / "data"
ISO2 = re.compile(r"^[A-Z]{2}$")


def test_every_gazetteer_code_is_an_iso_alpha2_code() -> None:
    gazetteer = json.loads((DATA / "gazetteer.json").read_text(encoding="utf-8"))
    bad = {
        (entry["name"], code)
        for entry in gazetteer["entries"]
        for code in entry["codes"]
        if not ISO2.match(str(code))
    }
    assert bad == set()


def test_curated_country_keys_stay_strings() -> None:
    curated = yaml.safe_load((DATA / "places_curated.yaml").read_text(encoding="utf-8"))
    for section, value in curated.items():
        if isinstance(value, dict):
            non_strings = [k for k in value if not isinstance(k, str)]
            assert non_strings == [], f"{section}: {non_strings}"
