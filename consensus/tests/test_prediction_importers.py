"""Parsing prediction imports: every problem named by row and field, no database."""

import pytest

from consensus.prediction_importers import (
    parse_prediction_csv,
    parse_prediction_jsonl,
    parse_prediction_records,
    prediction_format_of,
)


def test_csv_with_score_columns_and_timestamps():
    data = b"item,label,predicted_at,score_clean,score_dent\na,clean,2026-11-02T09:00:00Z,0.7,0.3\n"
    (p,), errors = parse_prediction_csv(data)
    assert errors == []
    assert (p.item, p.label, p.scores) == ("a", "clean", {"clean": 0.7, "dent": 0.3})
    assert p.predicted_at.isoformat() == "2026-11-02T09:00:00+00:00"


@pytest.mark.parametrize(
    ("data", "row", "message"),
    [
        (b"label\nclean\n", 1, "header"),
        (b"item,label\na,clean,extra\n", 1, "more cells"),
        (b"item,label,score_clean\na,clean,high\n", 1, "number"),
        (b"item,label,predicted_at\na,clean,2026-11-02T09:00:00\n", 1, "time zone"),
        (b"item,label\na,clean\na,dent\n", 2, "already predicted on row 1"),
    ],
)
def test_csv_problems_name_their_row(data, row, message):
    _, errors = parse_prediction_csv(data)
    assert errors[0].row == row
    assert message in errors[0].message


def test_jsonl_keeps_going_after_a_bad_line_and_numbers_rows_by_line():
    data = b'{"item": "a", "label": "clean"}\nnot json\n{"item": "b"}\n'
    parsed, errors = parse_prediction_jsonl(data)
    assert [p.item for p in parsed] == ["a"]
    assert [(e.row, e.field) for e in errors] == [(2, None), (3, "label")]


def test_records_accept_numeric_ids_and_a_wrapper():
    parsed, errors = parse_prediction_records({"predictions": [{"item_id": "7", "label": "x"}]})
    assert errors == []
    assert (parsed[0].item_id, parsed[0].item) == (7, None)
    assert parse_prediction_records([])[1][0].message == "the import holds no predictions."
    assert prediction_format_of("p.ndjson") == "jsonl"
    assert prediction_format_of("p.zip") is None
