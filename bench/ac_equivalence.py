#!/usr/bin/env python3
"""Old matchers vs new: the same regions, topics and rule hits, article by article.

Usage: .venv/bin/python bench/ac_equivalence.py [--base REF] [--new DIR] [--limit N]
           [--short-limit N] [--rules N] [ANT] [ASND]

The code at REF (default: the merge-base of HEAD and main, i.e. before the shared
automaton) is extracted with `git archive` into a temporary directory; the same worker
(this file, `--worker`) then runs in two subprocesses, one importing `streams` from that
copy and one from this tree, over the same inputs:

- the first N articles of ANT (../shared/data/ant/ant_multisource.jsonl.gz, title + body),
- the first N short posts of ASND (../shared/data/asnd/asnd_train_dev.jsonl, body only),

each through parse (title, section, dateline, body, published time, breaking) → story
features → enrich (regions about and mentioned, topics: codes, scores, evidence text and offsets)
→ match with the packaged rule pack AND with a generated pack of N rules built from the
corpus's own words and bigrams (bench/match.py `generate`: phrases, lists, near,
same_sentence, not, min_count, unless_near), so rule hits (ids, versions, matches with
terms, offsets and snippets) are compared on a few thousand real hits, not a handful.
With `--new DIR` the new side imports `streams` from DIR instead of this tree (e.g. a copy of
the committed tree with only some files changed, while other work is still uncommitted).
Prints the counts compared and every difference (the first few in full); exits 1 on any.
Corpus data is only read; the old code lives only in the temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_ANT = SHARED / "ant" / "ant_multisource.jsonl.gz"
DEFAULT_ASND = SHARED / "asnd" / "asnd_train_dev.jsonl"


# -- the worker: runs against whichever `streams` is first on sys.path ----------------------

# What the parser made of the page, compared as is (ingested_at differs between runs).
ARTICLE_KEYS = ("title", "section", "dateline", "body", "published_at", "breaking")
KEYS = ("id", "bad", "article", "features", "regions", "mentioned", "topics", "default_rules",
        "generated_rules")  # fmt: skip


def _hits(hits: list[Any]) -> list[Any]:
    return [
        [h.rule_id, h.rule_version, [[m.term, m.text, m.field, m.start, m.end, m.snippet]
                                     for m in h.matches]]
        for h in hits
    ]  # fmt: skip


def worker(inputs: Path, rules_doc: Path, out: Path, expect_root: str) -> None:
    import streams
    from streams.errors import BadInput
    from streams.rules import RuleSet
    from streams.rules.hits import match_article
    from streams.settings import Settings
    from streams.stories.features import places_of, story_features
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    where = str(Path(streams.__file__).resolve())
    if not where.startswith(expect_root):
        raise SystemExit(f"streams imported from {where}, expected under {expect_root}")
    doc = json.loads(rules_doc.read_text("utf-8"))
    generated = RuleSet.from_dicts(doc["rules"], doc["lists"])
    pipe = Pipeline.load(Settings())
    now = utcnow()
    with inputs.open(encoding="utf-8") as f, out.open("w", encoding="utf-8") as w:
        for line in f:
            raw_in = json.loads(line)
            try:
                raw, parsed = pipe.parse(json.dumps(raw_in).encode(), now)
            except BadInput as exc:  # dead-lettered by both (compared as such)
                empty = {"regions": [], "topics": [], "default_rules": [], "generated_rules": []}
                w.write(json.dumps({"id": raw_in["id"], "bad": str(exc), **empty}) + "\n")
                continue
            enriched = pipe.enrich(raw, parsed, now)
            record = {
                "id": raw_in["id"],
                "article": {k: enriched[k] for k in ARTICLE_KEYS},
                "features": story_features(
                    enriched["title"], enriched["body"], places_of(enriched)
                ).as_message(),
                "regions": enriched["regions"],
                "mentioned": enriched["mentioned"],
                "topics": enriched["topics"],
                "default_rules": _hits(pipe.match(enriched)),
                "generated_rules": _hits(match_article(enriched, generated)),
            }
            w.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"worker done: {where}", file=sys.stderr)


# -- the driver ---------------------------------------------------------------------------


def read_inputs(ant: Path, asnd: Path, limit: int, short_limit: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from bench.corpora import ant_raw, asnd_raw

    items = ant_raw(ant, limit) if ant.exists() else []
    return items + (asnd_raw(asnd, short_limit) if asnd.exists() else [])


def generated_rules(items: list[dict[str, Any]], size: int) -> dict[str, Any]:
    from bench.match import generate, vocabulary

    texts = [{"title": a.get("title") or "", "body": a["body"]} for a in items]
    unigrams, bigrams = vocabulary(texts)
    return generate(size, unigrams, bigrams)


def base_commit(ref: str | None) -> str:
    if ref is None:
        ref = subprocess.run(
            ["git", "merge-base", "HEAD", "main"], cwd=ROOT, check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
    return subprocess.run(
        ["git", "rev-parse", "--verify", ref + "^{commit}"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def extract(commit: str, into: Path) -> None:
    """The package at `commit` (deploy/ and schemas/ too: streams/ symlinks into them)."""
    archive = subprocess.run(
        ["git", "archive", commit, "streams", "deploy", "schemas"], cwd=ROOT, check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def run_workers(trees: dict[str, Path], inputs: Path, rules: Path, tmp: Path) -> dict[str, Path]:
    procs, outs = {}, {}
    for name, tree in trees.items():
        outs[name] = tmp / f"{name}.jsonl"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        env.pop("RASID_RULES_PATH", None)  # both use their packaged rule pack
        procs[name] = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(inputs), str(rules),
             str(outs[name]), str(tree.resolve())],
            env=env, cwd=tmp,
        )  # fmt: skip
    for name, proc in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"{name} worker failed ({proc.returncode})")
    return outs


def compare(old: Path, new: Path) -> tuple[dict[str, int], list[tuple[str, str, Any, Any]]]:
    counts = dict.fromkeys(("articles", "region labels", "region evidence", "topic labels",
                            "topic evidence", "default-pack hits", "generated-pack hits",
                            "rule matches", "unparseable"), 0)  # fmt: skip
    diffs: list[tuple[str, str, Any, Any]] = []
    with old.open(encoding="utf-8") as fo, new.open(encoding="utf-8") as fn:
        for lo, ln in zip(fo, fn, strict=True):
            a, b = json.loads(lo), json.loads(ln)
            counts["articles"] += 1
            counts["unparseable"] += "bad" in b
            counts["region labels"] += len(b["regions"])
            counts["region evidence"] += sum(len(r["evidence"]) for r in b["regions"])
            counts["topic labels"] += len(b["topics"])
            counts["topic evidence"] += sum(len(t["evidence"]) for t in b["topics"])
            counts["default-pack hits"] += len(b["default_rules"])
            counts["generated-pack hits"] += len(b["generated_rules"])
            counts["rule matches"] += sum(
                len(h[2]) for h in b["default_rules"] + b["generated_rules"]
            )
            for key in KEYS:
                if a.get(key) != b.get(key):
                    diffs.append((a["id"], key, a.get(key), b.get(key)))
    return counts, diffs


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ant", nargs="?", type=Path, default=DEFAULT_ANT)
    parser.add_argument("asnd", nargs="?", type=Path, default=DEFAULT_ASND)
    parser.add_argument("--base", help="git ref of the old code (default: merge-base with main)")
    parser.add_argument(
        "--new", type=Path, default=ROOT, help="tree of the new code (default: this one)"
    )
    parser.add_argument("--limit", type=int, default=5000, help="ANT articles (default 5000)")
    parser.add_argument("--short-limit", type=int, default=5000, help="ASND posts (default 5000)")
    parser.add_argument("--rules", type=int, default=1000, help="generated rules (default 1000)")
    args = parser.parse_args()
    items = read_inputs(args.ant, args.asnd, args.limit, args.short_limit)
    if not items:
        print(f"skipped: neither {args.ant} nor {args.asnd} found")
        return 0
    commit = base_commit(args.base)
    with tempfile.TemporaryDirectory(prefix="rasid-ac-equivalence-") as name:
        tmp = Path(name)
        inputs, rules = tmp / "inputs.jsonl", tmp / "rules.json"
        inputs.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in items), "utf-8")
        rules.write_text(json.dumps(generated_rules(items, args.rules), ensure_ascii=False))
        (tmp / "old").mkdir()
        extract(commit, tmp / "old")
        outs = run_workers({"old": tmp / "old", "new": args.new}, inputs, rules, tmp)
        counts, diffs = compare(outs["old"], outs["new"])
    ant = sum(1 for a in items if a["source"] != "asnd")
    print(f"old: {commit[:12]} (git archive); new: {args.new}")
    print(f"compared {counts['articles']} items ({ant} ANT articles, "
          f"{counts['articles'] - ant} ASND posts), {args.rules} generated rules")  # fmt: skip
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "articles"))
    print(f"differences: {len(diffs)}")
    if diffs:
        by_key = Counter(key for _, key, _, _ in diffs)
        print("  by key: " + ", ".join(f"{k} {n}" for k, n in by_key.most_common()))
    for item, key, a, b in diffs[:5]:
        print(f"  {item} {key}:\n    old {json.dumps(a, ensure_ascii=False)[:600]}\n"
              f"    new {json.dumps(b, ensure_ascii=False)[:600]}")  # fmt: skip
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
