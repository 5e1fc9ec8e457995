"""Names that are asides, not what an article is about (issue 15): a nationality that describes a
person, a currency, a language or a militia; a nationality used as a noun for a person; a backer
or a border; a medium; an event or an institution; where somebody comes from; a country or a
capital reacting or speaking; a list of examples (unless it is all the story's actors). Each word of each
list in streams/data/places_curated.yaml has a case here (built from a template per list), and
each case fails without its rule: the same sentence with a neutral word makes the country one
the article is about."""

from __future__ import annotations

import pytest
import yaml

from streams.classify.places import _CONTEXT_LISTS, default_gazetteer, locate, word_variants
from streams.resources import data_file
from streams.text.arabic import normalize, tokenize

CURATED = yaml.safe_load(data_file("places_curated.yaml").read_text(encoding="utf-8"))


def about(body: str, title: str = "") -> list[str]:
    return sorted(label.code for label in locate(title, body).about)


def mentioned(body: str, title: str = "") -> list[str]:
    return sorted(label.code for label in locate(title, body).mentioned)


# list name: (template with {w}, the same sentence with a neutral word, the country)
TEMPLATES = {
    "nationality_nouns": (
        "تحدث {w} الإيراني أمس عن خطط العام المقبل أمام جمهور كبير",
        "تحدث الوفد الإيراني أمس عن خطط العام المقبل أمام جمهور كبير",
        "IR",
    ),
    "relation_cues": (
        "انسحبت القوات {w} إيران من المدينة صباح اليوم بعد معارك",
        "انسحبت قوات إيران من المدينة صباح اليوم بعد معارك",
        "IR",
    ),
    "media_cues": (
        "نقلت {w} الإيرانية عن مسؤولين قولهم إن الاجتماع انتهى",
        "نقلت الحكومة الإيرانية عن مسؤولين قولهم إن الاجتماع انتهى",
        "IR",
    ),
    "event_cues": (
        "تحدث المشاركون في {w} إيران عن خطط العام المقبل",
        "تحدث المشاركون في إيران عن خطط العام المقبل",
        "IR",
    ),
    "reaction_verbs": (
        "{w} إيران الهجوم على السفارة في العاصمة أمس",
        "شهدت إيران الهجوم على السفارة في العاصمة أمس",
        "IR",
    ),
    "speech_verbs": (
        "{w} موسكو إن المفاوضات ستستأنف الأسبوع المقبل",
        "وصل الوفد إلى موسكو لاستئناف المفاوضات الأسبوع المقبل",
        "RU",
    ),
    "present_speech_verbs": (
        "موسكو {w} إن المفاوضات ستستأنف الأسبوع المقبل",
        "وصل الوفد إلى موسكو لاستئناف المفاوضات الأسبوع المقبل",
        "RU",
    ),
    # a nationality as a noun, the person named next: after a preposition, a verb or a pronoun
    "person_cues": (
        "تحدث الصحفيون {w} الأرجنتيني هيكتور عن خطط الفريق في الموسم الجديد",
        "تحدث الصحفيون الوفد الأرجنتيني هيكتور عن خطط الفريق في الموسم الجديد",
        "AR",
    ),
    "origin_cues": (
        "وصل المدرب الجديد {w} من إيران لتدريب الفريق في الموسم المقبل",
        "وصل المدرب الجديد أمس من إيران لتدريب الفريق في الموسم المقبل",
        "IR",
    ),
}
CASES = [(key, w) for key in TEMPLATES for w in CURATED[key]]


@pytest.mark.parametrize(("key", "word"), CASES)
def test_a_name_after_a_context_word_is_an_aside(key: str, word: str) -> None:
    template, neutral, country = TEMPLATES[key]
    assert country in about(neutral)  # the rule, not the sentence, keeps it out
    body = template.format(w=word)
    assert country not in about(body)
    assert country in mentioned(body)


def test_every_context_list_is_covered() -> None:
    # a list added to the classifier needs a template here (source and place cues have theirs
    # in test_places.py and test_common_words.py; capitals and list cues have their own tests)
    lists = {key for key, _ in _CONTEXT_LISTS} - {"source_cues", "place_cues"}
    assert lists == set(TEMPLATES) | {"list_cues"}
    assert {key for key, _ in CASES} == set(TEMPLATES)
    assert all(CURATED[key] for key in (*lists, "capitals"))


def country_of(name: str) -> str:
    matches = list(default_gazetteer().index.find(tokenize(name)))
    assert len(matches) == 1, name
    (code,) = matches[0].payload.code_set
    return code


@pytest.mark.parametrize("capital", CURATED["capitals"])
def test_a_capital_speaking_is_its_government(capital: str) -> None:
    code = country_of(capital)
    assert code in about(f"وصل الوفد إلى {capital} لاستئناف المفاوضات الأسبوع المقبل")
    body = f"قالت {capital} إن المفاوضات ستستأنف الأسبوع المقبل"
    assert code not in about(body)
    assert code in mentioned(body)


@pytest.mark.parametrize(
    ("body", "expected_about"),
    [
        # a nationality used as a noun: the person's, not the story's
        ("تعاقد النادي مع الأرجنتيني أنطونيو بيتزي لتدريب الفريق حتى نهاية الموسم", []),
        ("انضم المدرب للأرجنتيني أنطونيو بيتزي في الطاقم الفني للفريق هذا الموسم", []),
        ("قال الأمريكي جون بولتون إن المفاوضات ستستأنف الأسبوع المقبل", []),
        ("وجهت إليه الأمريكية كاثرين مايورغا اتهامات جديدة أمام المحكمة أمس", []),
        # an adjective after the noun it qualifies: the country
        ("تعاقد النادي الأرجنتيني مع مدرب جديد لتدريب الفريق حتى نهاية الموسم", ["AR"]),
        ("فاز المنتخب الأرجنتيني على منافسه بهدفين في المباراة", ["AR"]),
        # not a person named next: a definite word, a number, a cue word or a comma
        ("تعاقد النادي مع الأرجنتيني الجديد لتدريب الفريق حتى نهاية الموسم", ["AR"]),
        ("تعاقد النادي مع الأرجنتيني 2018 لتدريب الفريق حتى نهاية الموسم", ["AR"]),
        ("تعاقد النادي مع الأرجنتيني، وهو نادي بوكا جونيورز، لتدريب الفريق", ["AR"]),
        # a plural is the people, not one person
        ("التقى الوزير مع الأرجنتينيين في العاصمة لبحث الاتفاق الجديد", ["AR"]),
    ],
)
def test_a_nationality_as_a_noun_names_a_person(body: str, expected_about: list[str]) -> None:
    assert about(body) == expected_about


@pytest.mark.parametrize("cue", CURATED["enumeration_cues"])
def test_countries_after_an_enumeration_cue_are_the_actors(cue: str) -> None:
    run = "مصر والأردن وتونس بتقديم مساعدات عاجلة للاجئين خلال العام المقبل"
    assert about(f"تعهدت الدول {run}") == []  # a run of three, no cue: examples
    assert about(f"تعهدت {cue} {run}") == ["EG", "JO", "TN"]
    assert about(f"ستقدم المساعدات في {cue} {run}") == []  # «في كل من»: where, examples


def test_countries_after_a_speech_verb_are_the_actors() -> None:
    body = "تقول مصر والأردن وتونس إن قواتها شاركت في العملية المشتركة ضد المهربين"
    assert about(body) == ["EG", "JO", "TN"]
    assert about(body.replace("تقول", "وتشمل")) == []


@pytest.mark.parametrize("cue", CURATED["list_cues"])
def test_countries_after_a_list_cue_are_examples(cue: str) -> None:
    assert about("زار الوزير مصر والأردن الأسبوع الماضي لبحث التعاون") == ["EG", "JO"]
    body = f"زار الوزير دولا عربية {cue} مصر والأردن الأسبوع الماضي لبحث التعاون"
    assert about(body) == []
    assert mentioned(body) == ["EG", "JO"]


def test_every_context_word_is_one_word_after_normalising() -> None:
    # the rules look words up one by one (with their proclitics stripped: `word_variants`)
    for key in (*TEMPLATES, "list_cues"):
        for word in CURATED[key]:
            assert len(normalize(word).split()) == 1, (key, word)
            assert normalize(word) in word_variants(normalize(word))


# Real-world shapes of each rule (ANT dev errors), with what the article is about.
@pytest.mark.parametrize(
    ("title", "body", "expected_about"),
    [
        (
            # the 2018 World Cup's host is not what a story about a team is about
            "بروفيسور يجهز الأخضر لمونديال روسيا",
            "انضم مدرب اللياقة الجديد إلى المنتخب السعودي استعدادا لكأس العالم 2018 لكرة القدم"
            " في روسيا، وقال إن العمل مع المنتخب السعودي ممتع.",
            ["SA"],
        ),
        (
            # a player's nationality and his former club's country, in a story about Japan
            "إنييستا يسجل هدفا مذهلا مع فريقه الياباني",
            "لم يفقد النجم الإسباني أندريس إنييستا بريقه، إذ سجل هدفا رائعا مع فريق فيسيل كوبي"
            " الياباني في الدوري الياباني.",
            ["JP"],
        ),
        (
            # Iranian-backed militias in a story about Yemen
            "القوات المشتركة تحاصر فلول الحوثيين في الحديدة",
            "واصلت القوات المشتركة تمشيط مواقع ميليشيات الحوثي الإيرانية في الحديدة اليمنية،"
            " فيما فرت عناصر الميليشيات الموالية لإيران نحو صنعاء.",
            ["YE"],
        ),
        (
            # a bank robbery in Tunisia near the Algerian border
            "سطو إرهابي على بنك تونسي",
            "تبين أن السطو على البنك في محافظة القصرين التونسية الواقعة على الحدود مع الجزائر"
            " عمل إرهابي، بحسب وزارة الداخلية في تونس.",
            ["TN"],
        ),
        (
            # a British paper quoted in a story about no country in particular
            "متى تفوق الروبوتات أعداد البشر؟",
            "توقع باحثون أن تتفوق الروبوتات على البشر خلال ثلاثين عاما. ونقلت صحيفة ديلي ميل"
            " البريطانية عن الباحث قوله إن ذلك سيحدث قريبا، وأشارت الصحيفة البريطانية إلى"
            " دراسات سابقة.",
            [],
        ),
        (
            # a gold market report: the dollar's nationality is not a place
            "الذهب يرتفع مع هبوط الدولار",
            "ارتفعت أسعار الذهب قليلا اليوم بدعم من تراجع الدولار الأميركي، وقال محللون إن"
            " الطلب على الذهب سيبقى قويا.",
            [],
        ),
        (
            # countries named as examples in a story about Jordan
            "البنك الدولي يدعو إلى دعم الأردن",
            "قال البنك الدولي إن الأردن يحتاج إلى دعم عاجل، وإن دولا عربية مثل مصر وتونس"
            " والمغرب تواجه أزمات مشابهة لأزمة الأردن الاقتصادية.",
            ["JO"],
        ),
        (
            # a coach's nationality, used as a noun, in a story about Saudi Arabia
            "مدرب لياقة جديد للمنتخب السعودي",
            "انضم مدرب اللياقة الجديد إلى المنتخب السعودي ضمن الطاقم الفني للأرجنتيني"
            " أنطونيو بيتزي، وأشاد بيتزي بعمله مع المنتخب السعودي.",
            ["SA"],
        ),
        (
            # a player's former club, in a story about his new club in Japan
            "هدف رائع لإنييستا مع فريقه",
            "سجل إنييستا هدفا رائعا مع فريق فيسيل كوبي الياباني الذي انضم إليه قادما من"
            " برشلونة، في مباراة الدوري الياباني أمس.",
            ["JP"],
        ),
        (
            # three countries that say they struck: the actors, not examples
            "المواقع التي استهدفتها الضربات في سوريا",
            "تقول الولايات المتحدة وبريطانيا وفرنسا إن قواتها شنت ضربات على مواقع في سوريا.",
            ["FR", "GB", "SY", "US"],
        ),
        (
            # a reaction quoted in the first sentence of a story about Syria
            "غارات على ريف إدلب",
            "أدانت السعودية الغارات التي استهدفت ريف إدلب في سوريا، وقالت مصادر محلية إن"
            " الغارات على إدلب أوقعت قتلى.",
            ["SY"],
        ),
    ],
)
def test_asides_in_articles(title: str, body: str, expected_about: list[str]) -> None:
    assert about(body, title) == expected_about
