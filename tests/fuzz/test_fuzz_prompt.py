"""Sentences with numbers of any size and sign: each number is read as what its unit says, or
the sentence is refused naming it; never dropped, never read as another option."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audiogen.errors import AudiogenError, RequestError
from audiogen.prompt import parse_prompt
from audiogen.request import resolve_generation

FUZZ = settings.get_profile("fuzz")

GENRES = st.sampled_from(["techno", "rock", "trap", "house", "lofi", "jazz", "pop", "funk"])
NUMBERS = st.one_of(st.integers(0, 400), st.integers(0, 10**7), st.sampled_from([0, 1, 256,
                    257, 300, 301, 39, 40, 1800, 1801]))  # fmt: skip
UNITS = {  # unit word → (option, seconds per unit for a duration)
    "bpm": ("bpm", None), "bars": ("bars", None), "measures": ("bars", None),
    "seconds": ("duration", 1), "s": ("duration", 1), "min": ("duration", 60),
    "minutes": ("duration", 60), "hours": ("duration", 3600), "hrs": ("duration", 3600),
}  # fmt: skip
LEADS = st.sampled_from(["", "at ", "for ", "around ", "about "])


@FUZZ
@given(genre=GENRES, lead=LEADS, number=NUMBERS, unit=st.sampled_from(sorted(UNITS)),
       minus=st.booleans())  # fmt: skip
def test_a_number_with_its_unit_is_read_as_said_or_refused(genre, lead, number, unit, minus):
    sign = "-" if minus else ""
    sentence = f"{genre} {lead}{sign}{number} {unit}"
    try:
        options = parse_prompt(sentence).options
    except RequestError as exc:
        assert f"{sign}{number}" in str(exc), (sentence, str(exc))
        return
    assert not minus, sentence
    option, per_unit = UNITS[unit]
    expected = number * per_unit if per_unit else number
    assert options.get(option) == expected, (sentence, options)
    others = {k: v for k, v in options.items() if k in ("bpm", "bars", "duration") and k != option}
    assert number not in others.values(), (sentence, options)


@FUZZ
@given(genre=GENRES, minutes=st.integers(0, 200), seconds=st.integers(0, 99))
def test_a_clock_length_is_read_as_said_or_refused(genre, minutes, seconds):
    sentence = f"{genre} {minutes}:{seconds:02d}"
    try:
        options = parse_prompt(sentence).options
    except RequestError as exc:
        assert f"{minutes}:{seconds:02d}" in str(exc), (sentence, str(exc))
        return
    assert seconds < 60 and options.get("duration") == minutes * 60 + seconds, (sentence, options)
    assert "bpm" not in options or options["bpm"] not in (minutes, seconds), (sentence, options)


@FUZZ
@given(text=st.text(max_size=60))
def test_any_text_is_a_request_or_one_line(text):
    try:
        resolve_generation(text, {})
    except AudiogenError as exc:
        assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(words=st.lists(st.sampled_from(["dark", "trap", "at", "140", "bpm", "16", "bars", "3:45",
                                       "-", "4/4", "1e9", "0", "intro", "for", "video", "999",
                                       ",", "minutes", "-5", "..", "loop", "twelve"]),
                      min_size=1, max_size=8))  # fmt: skip
def test_sentences_of_number_words_are_a_request_or_one_line(words):
    try:
        request = resolve_generation(" ".join(words), {})
    except AudiogenError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 40 <= request.plan.bpm <= 300 and 1 <= request.plan.bars <= 256
