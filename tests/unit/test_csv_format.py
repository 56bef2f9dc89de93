"""CSV record splitting, record parsing, the CSV decoder and CSV configuration errors."""

import json

import pytest

from beam_pipelines.transforms.read.formats import DecodeError, make_decoder
from beam_pipelines.transforms.read.formats.csv_format import (CsvFormat, CsvRecordError, check_schema_for_csv,
                                                parse_columns, parse_record, split_records)
from beam_pipelines.transforms.validate.parse import ParseAndValidate, ParseConfig
from beam_pipelines.transforms.core.schema import load_schema


def split(text, **kwargs):
  lines = text.splitlines(keepends=True)
  return list(split_records(iter(lines), CsvFormat(**kwargs)))


def test_quoted_newline_is_one_record_identified_by_its_first_line():
  got = split('id,note\n1,"two\nlines"\n2,plain\n')
  assert got == [
      (1, 'id,note', ['id', 'note'], None),
      (2, '1,"two\nlines"', ['1', 'two\nlines'], None),
      (4, '2,plain', ['2', 'plain'], None),
  ]


def test_blank_lines_are_skipped_and_crlf_is_removed():
  got = split('a,b\r\n\r\n1,2\r\n\n3,"x\r\ny"\r\n')
  assert [(line, text) for line, text, _, _ in got] == [
      (1, 'a,b'), (3, '1,2'), (5, '3,"x\r\ny"')]
  assert got[2][2] == ['3', 'x\r\ny']


def test_grammar_errors_are_reported_per_record_and_reading_goes_on():
  got = split('1,"bad"x\n2,ok\n3,"never closed\n4,more\n')
  assert got[0][0] == 1 and got[0][2] is None and 'expected' in got[0][3]
  assert got[1] == (2, '2,ok', ['2', 'ok'], None)
  # An unterminated quote swallows the rest of the file: one record, from its first line.
  assert got[2][0] == 3 and got[2][1] == '3,"never closed\n4,more' and got[2][2] is None
  assert len(got) == 3


def test_delimiter_and_quote_char():
  got = split("a;b\n'x;y';z\n", delimiter=';', quote_char="'")
  assert got[1][2] == ['x;y', 'z']


def test_parse_record_maps_cells_to_columns():
  fmt = CsvFormat()
  assert parse_record(b'1,"a,b",', ('id', 'name', 'x'), fmt) == {
      'id': '1', 'name': 'a,b', 'x': ''}


@pytest.mark.parametrize('payload,kind', [
    (b'1,2', 'csv_column_count'),
    (b'1,2,3,4', 'csv_column_count'),
    (b'1,"x"y,3', 'invalid_csv'),
    (b'   ', 'empty_record'),
    (b'1,\xff,3', 'invalid_encoding'),
])
def test_parse_record_errors(payload, kind):
  with pytest.raises(CsvRecordError) as info:
    parse_record(payload, ('a', 'b', 'c'), CsvFormat())
  assert info.value.kind == kind


def test_decoder_prefers_the_file_header_attribute_over_configured_columns():
  decode = make_decoder(ParseConfig(format='csv', csv=CsvFormat(
      header=False, columns=('x', 'y'))))
  assert decode(b'1,2', {}) == {'x': '1', 'y': '2'}
  assert decode(b'1,2', {'csv_columns': json.dumps(['a', 'b'])}) == {'a': '1', 'b': '2'}


def test_decoder_without_any_column_names_is_a_dead_letter_kind():
  decode = make_decoder(ParseConfig(format='csv'))
  with pytest.raises(DecodeError) as info:
    decode(b'1,2', {})
  assert info.value.kind == 'csv_no_columns'


def test_csv_parse_config_reads_values_as_text():
  assert ParseConfig(format='csv').policy.text_input is True


@pytest.mark.parametrize('kwargs,message', [
    ({'delimiter': ';;'}, 'delimiter must be one character'),
    ({'delimiter': '\n'}, 'line break'),
    ({'quote_char': ''}, 'quote_char must be one character'),
    ({'delimiter': '"'}, 'must differ'),
    ({'header': False}, 'columns are required'),
    ({'columns': ('a', 'A')}, 'unique'),
    ({'columns': ('a', '')}, 'non-empty'),
    ({'encoding': 'no-such-codec'}, "csv encoding 'no-such-codec' is unknown"),
    ({'encoding': 'utf-16'}, 'not ASCII-compatible'),
])
def test_bad_csv_format_raises_value_error_naming_the_argument(kwargs, message):
  with pytest.raises(ValueError, match=message):
    CsvFormat(**kwargs)


def test_parse_columns():
  assert parse_columns(' a, b ,c') == ('a', 'b', 'c')
  assert parse_columns('') is None and parse_columns(None) is None


def test_required_record_cannot_come_from_csv():
  schema = load_schema([{'name': 'id', 'type': 'INT64'},
                        {'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED',
                         'fields': [{'name': 'e', 'type': 'STRING'}]}])
  with pytest.raises(ValueError, match='REQUIRED RECORD column.*user'):
    check_schema_for_csv(schema)
  with pytest.raises(ValueError, match='REQUIRED RECORD'):
    ParseAndValidate(schema, ParseConfig(format='csv'))
  # NULLABLE RECORD and REPEATED columns are allowed (they stay NULL / empty).
  check_schema_for_csv(load_schema([
      {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'e', 'type': 'STRING'}]},
      {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'}]))


def test_a_damaged_columns_attribute_is_a_named_dead_letter_kind():
  decode = make_decoder(ParseConfig(format='csv'))
  with pytest.raises(DecodeError) as info:
    decode(b'1,2', {'csv_columns': '["a", "b'})  # e.g. cut by a 1 KiB attribute limit
  assert info.value.kind == 'csv_invalid_columns_attribute'


def test_pubsub_attributes_are_cleaned_to_what_pubsub_accepts():
  from beam_pipelines.transforms.write.pubsub import check_topic, clean_attributes
  cleaned = clean_attributes({'a': 'x', 'none': None, '': 'empty key', 'n': 5,
                              'long': 'é' * 600})
  assert cleaned['a'] == 'x' and cleaned['n'] == '5'
  assert 'none' not in cleaned and '' not in cleaned
  assert len(cleaned['long'].encode('utf-8')) <= 1024 and set(cleaned['long']) == {'é'}
  assert check_topic('projects/p/topics/abc') == 'projects/p/topics/abc'
  with pytest.raises(ValueError, match='projects/PROJECT/topics/TOPIC'):
    check_topic('projects/p/topics/ab')
