"""Synthetic raw articles for the crash and fault tests, built from tests/fixtures: the sample
article and short generated Arabic news texts, some of which trip the default watch-list and
some not. Every article has a unique id, so the alerts it should raise are known offline."""

from __future__ import annotations

import random
from functools import lru_cache

import orjson

from streams.errors import BadInput
from streams.settings import Settings
from streams.worker.pipeline import Pipeline
from tests.conftest import SAMPLE

PLACES = [
    "بغداد",
    "دمشق",
    "البصرة",
    "الموصل",
    "حلب",
    "أربيل",
    "كركوك",
    "حمص",
    "الأنبار",
    "دير الزور",
]
ACTORS = ["مصدر أمني", "مسؤول محلي", "نائب في البرلمان", "متحدث عسكري", "شاهد عيان"]
ALERTING = [
    "قال {actor} في {place} إن أمن الحدود خط أحمر لا يمكن تجاوزه تحت أي ظرف.",
    "انفجرت عبوة ناسفة قرب سوق شعبي في {place} صباح اليوم بحسب {actor}.",
    "أعلن {actor} أن طائرة مسيرة استهدفت موقعا عسكريا في ضواحي {place}.",
    "أكد {actor} أن قوات الحشد الشعبي بدأت إعادة الانتشار في محيط {place}.",
    "حذر {actor} في {place} من أن المساس بالمقدسات خطوط حمراء.",
]
QUIET = [
    "افتتح {actor} معرضا للكتاب في {place} بمشاركة عشرات دور النشر العربية.",
    "ارتفعت أسعار الخضار في أسواق {place} خلال الأسبوع الجاري وفق {actor}.",
    "فاز فريق {place} على ضيفه بثلاثة أهداف مقابل هدف في الدوري المحلي.",
    "أعلنت مديرية التربية في {place} موعد امتحانات نهاية العام الدراسي.",
]


def articles(n: int, *, seed: int, tag: str) -> list[dict[str, object]]:
    """n raw-article messages; about one in ten is the full sample article (another outlet's
    reprint each time)."""
    rng = random.Random(seed)
    sample = SAMPLE.read_text(encoding="utf-8")
    out: list[dict[str, object]] = []
    for i in range(n):
        if i % 10 == 0:
            # the sample as many outlets reprint it: one outlet filing the same text twice is
            # not news (no alert update), so each copy comes from an outlet of its own
            body, source = sample, f"outlet-{i:05d}"
        else:
            template = rng.choice(ALERTING if rng.random() < 0.5 else QUIET)
            body = template.format(actor=rng.choice(ACTORS), place=rng.choice(PLACES))
            # the bulletin number makes every text unique: a repeated text from one outlet
            # is a copy, which by design updates no alert (and the offline count expects one)
            body += (
                f"\n\nوأضاف أن الحصيلة بلغت {rng.randint(1, 500)} حتى الساعة {i % 24}"
                f" في البلاغ رقم {i}."
            )
            source = "testwire"
        out.append(
            {
                "schema_version": 1,
                "id": f"{tag}-{i:05d}",
                "source": source,
                "body": body,
                "content_type": "text/plain",
            }
        )
    assert len({(a["source"], a["body"]) for a in out}) == n, "a same-outlet copy in the corpus"
    return out


@lru_cache(maxsize=1)
def _pipeline() -> Pipeline:
    return Pipeline.load(Settings())


def expected_alert_ids(messages: list[bytes]) -> set[str]:
    """The alert ids the pipeline raises for these raw messages, computed offline (the same
    code as `rasid classify`)."""
    ids: set[str] = set()
    for value in messages:
        try:
            _, alerts = _pipeline().classify(value)
        except BadInput:
            continue
        ids.update(a["id"] for a in alerts)
    return ids


def encode(items: list[dict[str, object]]) -> list[bytes]:
    return [orjson.dumps(a) for a in items]
