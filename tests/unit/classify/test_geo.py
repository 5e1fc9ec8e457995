"""Map positions of the places alerts name (streams/classify/geo.py, streams/data/places_geo.json):
read as the region classifier reads them, placed at GeoNames coordinates, or at the country's
centre when the name is a country, a demonym or a place without coordinates."""

from __future__ import annotations

import json
import math

import pytest

from streams.classify.geo import Geo, Point, default_geo
from streams.classify.places import default_gazetteer
from streams.resources import data_file


def _near(point: Point | None, lat: float, lon: float, km: float) -> bool:
    assert point is not None
    # equirectangular distance: plenty for "within a few dozen km"
    x = math.radians(point.lon - lon) * math.cos(math.radians((point.lat + lat) / 2))
    y = math.radians(point.lat - lat)
    return 6371 * math.hypot(x, y) <= km


@pytest.mark.parametrize(
    ("code", "found", "lat", "lon", "name", "label"),
    [
        ("IQ", "بغداد", 33.34, 44.40, "بغداد", "بغداد"),
        ("IQ", "ببغداد", 33.34, 44.40, "بغداد", "بغداد"),  # proclitic
        ("IQ", "والموصل", 36.34, 43.12, "الموصل", "الموصل"),
        ("EG", "القاهرة", 30.06, 31.25, "القاهره", "القاهرة"),  # ta marbuta folded
        ("SY", "بدمشق", 33.51, 36.29, "دمشق", "دمشق"),
        ("LY", "طرابلس", 32.89, 13.19, "طرابلس", "طرابلس"),  # ambiguous: the alert's code decides
        ("LB", "طرابلس", 34.43, 35.84, "طرابلس", "طرابلس"),
    ],
)
def test_places_are_placed_at_their_city(
    code: str, found: str, lat: float, lon: float, name: str, label: str
) -> None:
    point = default_geo().locate(code, found)
    assert point is not None and point.exact
    assert (point.name, point.label) == (name, label)
    assert _near(point, lat, lon, km=25)


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("IQ", "العراق"),  # the country
        ("IQ", "العراقيين"),  # a demonym
        ("EG", "مصر"),
        ("IQ", "IQ"),  # no evidence: the code itself
        ("IQ", "كلمة لا مكان فيها"),
        ("EG", "بغداد"),  # a place of another country: never put in the wrong one
    ],
)
def test_country_level_mentions_get_the_country_centre(code: str, found: str) -> None:
    point = default_geo().locate(code, found)
    assert point is not None and not point.exact
    assert point.name == code and point.label is None
    assert (point.lat, point.lon) == default_geo().countries[code]


def test_country_centres_lie_in_their_country() -> None:
    # population-weighted centres of the country's cities; within the country's extent
    geo = default_geo()
    assert _near(geo.locate("IQ", "العراق"), 33.2, 44.0, km=250)  # near Baghdad
    assert _near(geo.locate("EG", "مصر"), 30.0, 31.2, km=250)  # the Nile valley
    assert _near(geo.locate("FJ", "FJ"), -17.8, 178.1, km=300)  # across 180°, not at 0°


@pytest.mark.parametrize(("code", "found"), [("XX", "بغداد"), ("iq", "بغداد"), ("IRQ", "بغداد")])
def test_unknown_codes_have_no_position(code: str, found: str) -> None:
    assert default_geo().locate(code, found) is None


def test_a_long_text_is_cut_not_read_whole() -> None:
    point = default_geo().locate("IQ", "كلمة " * 100_000 + "بغداد")
    assert point is not None and not point.exact  # only the first 100 characters are read


def test_the_coordinates_file_names_only_gazetteer_places_of_their_country() -> None:
    doc = json.loads(data_file("places_geo.json").read_text("utf-8"))
    assert "GeoNames" in doc["attribution"]
    codes_of = {e["name"]: set(e["codes"]) for e in json.loads(
        data_file("gazetteer.json").read_text("utf-8"))["entries"]}  # fmt: skip
    assert len(doc["places"]) > 1000
    for name, by_code in doc["places"].items():
        assert set(by_code) <= codes_of[name], name
        for lat, lon, label in by_code.values():
            assert -90 <= lat <= 90 and -180 <= lon <= 180 and label
    # every country the gazetteer can give has a centre to fall back on
    gazetteer_codes = {c for codes in codes_of.values() for c in codes}
    assert gazetteer_codes - set(doc["countries"]) <= {"XK"}  # Kosovo: no ISO code in GeoNames


def test_geo_reads_any_coordinates_document() -> None:
    doc = {"places": {"بغداد": {"IQ": [1.0, 2.0, "بغداد"]}}, "countries": {"IQ": [3.0, 4.0]}}
    geo = Geo(doc, default_gazetteer())
    assert geo.locate("IQ", "في بغداد") == Point(1.0, 2.0, True, "بغداد", "بغداد")
    assert geo.locate("IQ", "الموصل") == Point(3.0, 4.0, False, "IQ")
