"""Breaking-news marks (issue 15): «عاجل» opening the headline or the only line."""

from __future__ import annotations

import pytest

from streams.classify.breaking import is_breaking


@pytest.mark.parametrize(
    ("title", "body", "breaking"),
    [
        ("عاجل | انفجار قرب ساحة التحرير", "", True),
        ("عاجل: انفجار قرب ساحة التحرير", "", True),
        ("#عاجل انفجار قرب ساحة التحرير", "", True),
        ("🔴 عاجل - انفجار قرب ساحة التحرير", "", True),
        ("خبر عاجل: انفجار قرب ساحة التحرير", "", True),
        ("أخبار عاجلة | انفجار قرب ساحة التحرير", "", True),
        ("عاجل جداً: انفجار قرب ساحة التحرير", "", True),
        ("RT @AnyDesk: عاجل | قوات الأمن تغلق الطرق", "", True),
        ("@desk عاجل قوات الأمن تغلق الطرق", "", True),
        ("", "عاجل | قوات الأمن تغلق الطرق\nتفاصيل لاحقاً", True),  # no headline: first line
        # the word as an adjective, or later in the line: not a mark
        ("اجتماع عاجل لمجلس الأمن بشأن سوريا", "", False),
        ("البرلمان يطالب بشكل عاجل بفتح تحقيق", "", False),
        ("انفجار قرب ساحة التحرير", "عاجل | هذا السطر ليس أول سطر العنوان", False),
        ("", "قال مسؤول إن الأمر عاجل\nعاجل | سطر ثان", False),
        ("", "", False),
        ("عاجلة", "", False),  # another word
    ],
)
def test_breaking_marks(title: str, body: str, breaking: bool) -> None:
    assert is_breaking(title, body) is breaking
