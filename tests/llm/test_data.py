"""llm.data.pairs: HH, SHP and TRL rows converted at the boundary, bad rows counted with line
numbers."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llm_helpers import FIXTURES

from llm.data.pairs import (
    ASSISTANT,
    BadRow,
    DataError,
    FilteredRow,
    PreferencePair,
    from_hh,
    from_shp,
    from_trl,
    load_pairs,
    split_by_prompt,
)

words = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=12)


def test_hh_fixture_keeps_good_rows_and_reports_each_bad_row_by_line():
    pairs, report = load_pairs("hh", str(FIXTURES / "hh.jsonl"))
    lines = (FIXTURES / "hh.jsonl").read_text().splitlines()
    assert report.rows == len(lines)
    assert report.pairs == len(pairs) == report.rows - len(report.bad)
    reasons = dict(report.bad)
    assert reasons[5].startswith("malformed JSON")
    assert "missing field 'rejected'" in reasons[8]
    assert {"empty response", "chosen == rejected",
            "transcripts differ before the final assistant turn"} <= set(reasons.values())
    for pair in pairs:
        assert pair.prompt.endswith(ASSISTANT)


def test_hh_prefix_transcripts_are_kept_with_the_shared_prompt():
    pairs, _ = load_pairs("hh", str(FIXTURES / "hh.jsonl"))
    by_start = {p.chosen.split(",")[0]: p for p in pairs}
    prefix = by_start[" One"]
    assert prefix.rejected == " One, two" and prefix.chosen == " One, two, three."
    extra = next(p for p in pairs if "You're welcome" in p.chosen)
    assert extra.prompt.endswith("Say yes." + ASSISTANT)
    assert extra.rejected == " No."


@given(st.lists(words, min_size=1, max_size=3), words, words)
def test_hh_prompt_plus_response_rebuilds_each_transcript(turns, chosen, rejected):
    if chosen == rejected:
        return
    dialogue = "".join(f"\n\nHuman: {t}{ASSISTANT} ok" for t in turns[:-1])
    dialogue += f"\n\nHuman: {turns[-1]}{ASSISTANT}"
    row = {"chosen": dialogue + " " + chosen, "rejected": dialogue + " " + rejected}
    pair = from_hh(row)
    assert pair.prompt == dialogue
    assert pair.prompt + pair.chosen == row["chosen"]
    assert pair.prompt + pair.rejected == row["rejected"]


def test_shp_fixture_keeps_ratio_at_least_two_and_orients_by_label():
    pairs, report = load_pairs("shp", str(FIXTURES / "shp.json"))
    rows = [json.loads(line) for line in (FIXTURES / "shp.json").read_text().splitlines()]
    usable = [r for r in rows if "human_ref_A" in r]
    kept = [r for r in usable
            if max(r["score_A"], r["score_B"]) / min(r["score_A"], r["score_B"]) >= 2]
    assert report.filtered == len(usable) - len(kept)
    assert len(pairs) == len(kept)
    for row, pair in zip(kept, pairs, strict=True):
        better = row["human_ref_A"] if row["labels"] == 1 else row["human_ref_B"]
        assert pair.chosen.strip() == better
        assert pair.prompt == f"\n\nHuman: {row['history']}{ASSISTANT}"
    assert [line for line, _ in report.bad] == [len(rows)]


def test_shp_low_ratio_is_filtered_not_bad():
    row = {"history": "q", "human_ref_A": "a", "human_ref_B": "b", "labels": 1,
           "score_A": 3, "score_B": 2}
    with pytest.raises(FilteredRow):
        from_shp(row)


def test_trl_fixture_and_conversational_rows():
    pairs, report = load_pairs("jsonl", str(FIXTURES / "trl.jsonl"))
    n_lines = len((FIXTURES / "trl.jsonl").read_text().splitlines())
    assert len(pairs) == n_lines - 1 and report.bad == [(n_lines, "chosen == rejected")]
    with pytest.raises(BadRow, match="conversational"):
        from_trl({"prompt": [{"role": "user", "content": "hi"}], "chosen": "a", "rejected": "b"})


@pytest.mark.parametrize("row", [
    {"prompt": "p", "chosen": "", "rejected": "b"},
    {"prompt": "p", "chosen": "a", "rejected": "a"},
    {"prompt": "p", "chosen": 3, "rejected": "b"},
    {"prompt": "p", "chosen": "a"},
])
def test_trl_bad_rows(row):
    with pytest.raises(BadRow):
        from_trl(row)


def test_a_file_without_usable_pairs_is_an_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "chosen": "a", "rejected": "a"}\nnot json\n')
    with pytest.raises(DataError, match="no usable"):
        load_pairs("jsonl", str(path))


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"missing\.jsonl"):
        load_pairs("hh", str(tmp_path / "missing.jsonl"))


@given(st.integers(2, 30), st.floats(0.05, 0.9), st.integers(0, 10**6))
def test_split_by_prompt_holds_out_whole_prompts(n_prompts, fraction, seed):
    pairs = [PreferencePair(f"p{i % n_prompts}", f" a{i}", f" b{i}") for i in range(2 * n_prompts)]
    train, held = split_by_prompt(pairs, fraction, seed)
    assert train and held and len(train) + len(held) == len(pairs)
    assert not {p.prompt for p in train} & {p.prompt for p in held}
