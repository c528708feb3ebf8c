"""upo_theory.parse_json: the core's one JSON reader, bounded and strict about repeated keys."""

import json

import pytest

from upo_theory import parse_json


def test_a_document_reads_as_json_loads_reads_it():
    text = '{"a": {"b": [1, 2.5, null]}, "c": [{"d": "e"}, {"d": "f"}], "g": true}'
    assert parse_json(text) == json.loads(text)
    assert parse_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize(("text", "key"), [
    ('{"beta": 0.1, "beta": 0.5}', "beta"),
    ('{"outer": {"x": 1, "y": 2, "x": 1}}', "x"),
    ('[{"ok": 1}, {"k": 1, "k": 2}]', "k"),
])
def test_a_repeated_key_is_a_value_error_naming_it(text, key):
    with pytest.raises(ValueError, match=f'key "{key}" is given twice') as caught:
        parse_json(text)
    assert not isinstance(caught.value, json.JSONDecodeError)


def test_a_third_party_reader_may_keep_the_last_value():
    assert parse_json('{"k": 1, "k": 2}', unique_keys=False) == {"k": 2}


def test_too_deep_a_nesting_is_a_value_error():
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json("[" * 100_000 + "]" * 100_000)
