"""The profile note says when, where and on what the records were made."""

import time

from bnbook.runs import cpu
from tests.fake_records import fake_record


def test_the_profile_note_says_when_and_where_its_records_were_made(monkeypatch):
    from bnbook.presentation.report import profile_note

    monkeypatch.setenv("BNBOOK_PROFILE", "full")
    old = fake_record(created=time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, 0)))
    text = profile_note([old]).data
    assert "run that built this book" not in text
    assert "2025-03-01" in text and cpu.model_name() in text
    assert f"{old['machine']['threads']} TensorFlow thread(s)" in text
    assert "Python" in text and "TensorFlow 2" in text
