"""Display names (streams/data/names.yaml): every code the classifiers can emit has an Arabic and
an English name, and enriched articles carry them (schema enriched-article.v3)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.classify import names
from streams.classify.names import name, names_of, parse
from streams.settings import Settings
from streams.validation import schema_errors
from streams.worker.pipeline import Pipeline
from tests.conftest import SAMPLE

DATA = Path(__file__).resolve().parents[3] / "streams" / "data"
ARABIC = re.compile("[\u0621-\u064a]")
LATIN = re.compile("[A-Za-z]")


def _gazetteer_codes() -> set[str]:
    """Every region the gazetteer can give (the classifier emits nothing else), and every
    country of the curated file it is built from."""
    gazetteer = json.loads((DATA / "gazetteer.json").read_text(encoding="utf-8"))
    curated = yaml.safe_load((DATA / "places_curated.yaml").read_text(encoding="utf-8"))
    codes = {str(code) for entry in gazetteer["entries"] for code in entry["codes"]}
    return codes | {str(code) for code in curated["countries"]}


def _topic_codes() -> set[str]:
    lexicons = yaml.safe_load((DATA / "topic_lexicons.yaml").read_text(encoding="utf-8"))
    model = json.loads((DATA / "topic_model.json").read_text(encoding="utf-8"))
    return set(lexicons["topics"]) | set(lexicons.get("sections", {})) | set(model["topics"])


@pytest.mark.parametrize(
    ("kind", "codes"), [("region", _gazetteer_codes()), ("topic", _topic_codes())]
)
def test_every_code_the_classifiers_emit_has_both_names(kind: Any, codes: set[str]) -> None:
    assert len(codes) >= (100 if kind == "region" else 10)  # the data files were read
    missing = sorted(c for c in codes if not names.known(kind, c))
    assert missing == [], f"add these {kind} codes to streams/data/names.yaml"
    for code in codes:
        n = name(kind, code)
        assert ARABIC.search(n["ar"]) and not LATIN.search(n["ar"]), (code, n)
        assert LATIN.search(n["en"]) and not ARABIC.search(n["en"]), (code, n)


def test_topic_tuple_of_the_classifier_is_covered() -> None:
    from streams.classify.topics import TOPICS

    assert all(names.known("topic", t) for t in TOPICS)


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("region", "IQ", {"ar": "العراق", "en": "Iraq"}),
        ("region", "SY", {"ar": "سوريا", "en": "Syria"}),
        ("region", "LB", {"ar": "لبنان", "en": "Lebanon"}),
        ("region", "IR", {"ar": "إيران", "en": "Iran"}),
        ("region", "SA", {"ar": "السعودية", "en": "Saudi Arabia"}),
        ("region", "AE", {"ar": "الإمارات", "en": "United Arab Emirates"}),
        ("region", "NO", {"ar": "النرويج", "en": "Norway"}),  # a YAML boolean unless quoted
        ("topic", "security", {"ar": "أمن", "en": "Security"}),
        ("topic", "politics", {"ar": "سياسة", "en": "Politics"}),
        ("topic", "economy", {"ar": "اقتصاد", "en": "Economy"}),
        ("region", "ZZ", {"ar": "ZZ", "en": "ZZ"}),  # unknown: the code itself
        ("topic", "astrology", {"ar": "astrology", "en": "astrology"}),
    ],
)
def test_name(kind: Any, code: str, expected: dict[str, str]) -> None:
    assert name(kind, code) == expected


def test_a_name_is_a_fresh_dict() -> None:
    name("region", "IQ")["ar"] = "changed"
    assert name("region", "IQ")["ar"] == "العراق"


def test_names_of_covers_exactly_the_codes_given() -> None:
    got = names_of(["IQ", "SY"], ["security"])
    assert got == {
        "regions": {"IQ": name("region", "IQ"), "SY": name("region", "SY")},
        "topics": {"security": name("topic", "security")},
    }
    assert names_of([], []) == {"regions": {}, "topics": {}}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a mapping"),
        ({"regions": {}}, "`topics` must be a mapping"),
        ({"regions": {"IQ": {"ar": "العراق"}}, "topics": {}}, "IQ: needs exactly ar and en"),
        ({"regions": {False: {"ar": "النرويج", "en": "Norway"}}, "topics": {}}, "not a string"),
        ({"regions": {"IQ": {"ar": " ", "en": "Iraq"}}, "topics": {}}, "non-empty strings"),
        ({"regions": {}, "topics": {"x": {"ar": "أ", "en": "X", "fr": "X"}}}, "exactly"),
    ],
)
def test_a_bad_names_file_is_refused(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(doc)


# ------------------------------------------------------------------ enriched-article v3


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline.load(Settings())


def _classify(pipe: Pipeline, **raw: Any) -> dict[str, Any]:
    message = {"source": "baghdadtoday", "body": SAMPLE.read_text("utf-8"), **raw}
    enriched, _ = pipe.classify(orjson.dumps(message))
    return enriched


def test_enriched_labels_carry_their_names(pipe: Pipeline) -> None:
    enriched = _classify(pipe, schema_version=1)
    assert enriched["schema_version"] == 3
    assert schema_errors("enriched-article", enriched) == []
    assert enriched["regions"] and enriched["topics"]
    for field, kind in (("regions", "region"), ("mentioned", "region"), ("topics", "topic")):
        for label in enriched[field]:
            assert label["name"] == name(kind, label["code"]), (field, label["code"])
    assert {"code": "SY", "name": {"ar": "سوريا", "en": "Syria"}} in [
        {"code": r["code"], "name": r["name"]} for r in enriched["regions"]
    ]


@pytest.mark.parametrize(("raw", "revision"), [({}, 1), ({"id": "a1", "revision": 3}, 3)])
def test_enriched_revision_is_copied_from_the_raw_article(
    pipe: Pipeline, raw: dict[str, Any], revision: int
) -> None:
    enriched = _classify(pipe, schema_version=2, **raw)
    assert enriched["revision"] == revision
    assert schema_errors("enriched-article", enriched) == []


def test_enriched_v3_requires_names_and_v2_is_still_its_own_schema(pipe: Pipeline) -> None:
    enriched = _classify(pipe)
    nameless = {
        **enriched,
        "regions": [{k: v for k, v in r.items() if k != "name"} for r in enriched["regions"]],
    }
    assert any(
        "'name' is a required property" in e for e in schema_errors("enriched-article", nameless)
    )
    # what the previous release wrote: no names, no revision, version 2
    v2 = {
        k: [{f: x for f, x in label.items() if f != "name"} for label in v]
        if k in ("regions", "mentioned", "topics")
        else v
        for k, v in enriched.items()
        if k != "revision"
    }
    v2["schema_version"] = 2
    assert schema_errors("enriched-article-v2", v2) == []
    assert schema_errors("enriched-article", {**enriched, "revision": 0})
