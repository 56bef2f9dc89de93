"""CSV files through ReadEvents + ParseAndValidate: every BigQuery type, good and bad."""

import base64
import csv
import io
import json

from formats_helpers import attributes, by_source, run_chain

from beam_pipelines.transforms.read.files import FileSourceConfig
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.validate.parse import ParseConfig

SCHEMA = [
    {'name': 's', 'type': 'STRING'}, {'name': 'b', 'type': 'BYTES'},
    {'name': 'i', 'type': 'INTEGER'}, {'name': 'f', 'type': 'FLOAT'},
    {'name': 'n', 'type': 'NUMERIC'}, {'name': 'bn', 'type': 'BIGNUMERIC'},
    {'name': 'bo', 'type': 'BOOLEAN'}, {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'd', 'type': 'DATE'}, {'name': 't', 'type': 'TIME'},
    {'name': 'dt', 'type': 'DATETIME'}, {'name': 'g', 'type': 'GEOGRAPHY'},
    {'name': 'j', 'type': 'JSON'}, {'name': 'req', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'rec', 'type': 'RECORD', 'fields': [{'name': 'a', 'type': 'INT64'}]},
    {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
]
COLUMNS = [f['name'] for f in SCHEMA]
GOOD = {'s': 'hi, "there"\nsecond line', 'b': 'AAE=', 'i': '-42', 'f': '1.5e3', 'n': '12.345',
        'bn': '-1e3', 'bo': 'TRUE', 'ts': '2026-01-02 03:04:05.123+01:00', 'd': '2026-1-2',
        't': '3:04', 'dt': '2026-01-02T03:04:05.5', 'g': 'POINT(1 2)',
        'j': '{"a": [1, 2]}', 'req': '7', 'rec': '', 'tags': ''}
GOOD_ROW = {'s': 'hi, "there"\nsecond line', 'b': 'AAE=', 'i': -42, 'f': 1500.0,
            'n': '12.345', 'bn': '-1000', 'bo': True, 'ts': '2026-01-02T02:04:05.123000Z',
            'd': '2026-01-02', 't': '03:04:00.000000', 'dt': '2026-01-02T03:04:05.500000',
            'g': 'POINT(1 2)', 'j': '{"a":[1,2]}', 'req': 7, 'tags': []}
EMPTY_ROW = {'s': '', 'b': None, 'i': None, 'f': None, 'n': None, 'bn': None, 'bo': None,
             'ts': None, 'd': None, 't': None, 'dt': None, 'g': None, 'j': None, 'req': 8,
             'tags': []}
# (column, bad cell, errorType): one bad cell per record so the errorType is exact.
BAD_CELLS = [
    ('b', 'not base64!', 'invalid_value:b'),
    ('i', '4.5', 'type_mismatch:i'),
    ('i', '9223372036854775808', 'out_of_range:i'),
    ('f', 'abc', 'type_mismatch:f'),
    ('f', 'NaN', 'non_finite:f'),
    ('n', '1.0000000001', 'precision_exceeded:n'),
    ('n', '1e30', 'out_of_range:n'),
    ('bn', 'ten', 'type_mismatch:bn'),
    ('bo', 'maybe', 'type_mismatch:bo'),
    ('ts', '2026-13-01', 'invalid_value:ts'),
    ('d', '2026-02-30', 'invalid_value:d'),
    ('t', '25:00', 'invalid_value:t'),
    ('dt', '2026-01-01T00:00:00Z', 'invalid_value:dt'),
    ('g', 'POINT(200 0)', 'invalid_value:g'),
    ('j', '{bad', 'invalid_value:j'),
    ('req', '', 'missing_required:req'),
    ('rec', '{"a": 1}', 'type_mismatch:rec'),
    ('tags', 'x', 'type_mismatch:tags'),
]


def csv_bytes(rows, delimiter=','):
  buf = io.StringIO(newline='')
  writer = csv.writer(buf, delimiter=delimiter, lineterminator='\n')
  for row in rows:
    writer.writerow(row)
  return buf.getvalue().encode('utf-8')


def test_every_type_good_and_bad(tmp_path):
  records = [[GOOD[c] for c in COLUMNS], [''] * 13 + ['8', '', '']]
  for column, cell, _ in BAD_CELLS:
    records.append([cell if c == column else GOOD[c] for c in COLUMNS])
  data = csv_bytes([COLUMNS] + records)
  data += b'1,2,3\n'                                   # too few columns
  data += b'\xff\xfe,' + b',' * 12 + b'9,,\n'          # not UTF-8
  path = tmp_path / 'in.csv'
  path.write_bytes(data)

  rows, dead, counters = run_chain(tmp_path / 'out', FileSourceConfig(str(path), 'csv'),
                                   SCHEMA)
  assert sorted(rows, key=lambda r: r['req']) == [GOOD_ROW, EMPTY_ROW]

  # Source ids are the first line of each record; GOOD['s'] holds a newline, so most
  # records span two lines. lines[j] = first line of ([header] + records)[j].
  lines = [1]
  for record in [COLUMNS] + records:
    lines.append(lines[-1] + 1 + sum(c.count('\n') for c in record))
  assert lines[1:4] == [2, 4, 5]
  first_bad_line = lines[3]
  expected = {f'{path}:{lines[3 + i]}': t for i, (_, _, t) in enumerate(BAD_CELLS)}
  last = lines[-1]
  expected[f'{path}:{last}'] = 'csv_column_count'
  expected[f'{path}:{last + 1}'] = 'invalid_encoding'
  got = by_source(dead)
  assert {k: v['errorType'] for k, v in got.items()} == expected
  column_count = got[f'{path}:{last}']
  assert column_count['stage'] == 'parse'
  assert column_count['payloadString'] == '1,2,3'
  assert 'expected 16 columns' in column_count['errorMessage']
  assert attributes(column_count) == {'file': str(path), 'format': 'csv',
                                      'csv_columns': json.dumps(COLUMNS)}
  assert base64.b64decode(got[f'{path}:{last + 1}']['payloadBytes']).startswith(b'\xff\xfe,')
  assert got[f'{path}:{first_bad_line}']['stage'] == 'validate'
  assert 'b: not valid standard base64' in got[f'{path}:{first_bad_line}']['errorMessage']
  # Counting invariant: records read == rows + dead letters.
  assert counters[('read', 'records')] == len(rows) + len(dead) == len(records) + 2


def test_no_header_configured_columns_tab_delimiter_and_quoted_newline(tmp_path):
  path = tmp_path / 'in.tsv'
  path.write_bytes(b'1\t"a\tb"\n2\t"multi\nline"\n\n3\tplain\n')
  fmt = CsvFormat(delimiter='\t', header=False, columns=('id', 'name'))
  schema = [{'name': 'id', 'type': 'INT64'}, {'name': 'name', 'type': 'STRING'}]
  rows, dead, _ = run_chain(tmp_path / 'out', FileSourceConfig(str(path), 'csv', csv=fmt),
                            schema, ParseConfig(format='csv', csv=fmt))
  assert dead == []
  assert sorted(rows, key=lambda r: r['id']) == [
      {'id': 1, 'name': 'a\tb'}, {'id': 2, 'name': 'multi\nline'}, {'id': 3, 'name': 'plain'}]


def test_header_problems_are_one_dead_letter_naming_the_file(tmp_path):
  (tmp_path / 'dup.csv').write_bytes(b'id,ID\n1,2\n')
  (tmp_path / 'other.csv').write_bytes(b'x,y\n1,2\n')
  (tmp_path / 'empty.csv').write_bytes(b'')
  fmt = CsvFormat(columns=('id', 'name'))
  schema = [{'name': 'id', 'type': 'INT64'}, {'name': 'name', 'type': 'STRING'}]
  rows, dead, counters = run_chain(
      tmp_path / 'out', FileSourceConfig(str(tmp_path / '*.csv'), 'csv', csv=fmt), schema,
      ParseConfig(format='csv', csv=fmt))
  assert rows == []
  got = by_source(dead)
  assert set(got) == {f'{tmp_path}/dup.csv:1', f'{tmp_path}/other.csv:1'}
  for record in got.values():
    assert record['stage'] == 'read' and record['errorType'] == 'csv_invalid_header'
  assert got[f'{tmp_path}/dup.csv:1']['errorMessage'].endswith(
      'the header row repeats a column name (columns 1 and 2)')
  other = got[f'{tmp_path}/other.csv:1']['errorMessage']
  assert other.endswith("differs from the configured columns ['id', 'name'] (2 names, first "
                        "difference at column 1)")
  assert got[f'{tmp_path}/other.csv:1']['payloadString'] == 'x,y'
  assert counters[('read', 'records')] == 2


def test_header_messages_and_logs_do_not_quote_the_header_cells(tmp_path, caplog):
  # A file without a header read with --csv_header true: its first data row is the "header".
  # The reader logs the problem before any masking, so the cells must not be in the text.
  (tmp_path / 'a.csv').write_bytes(b'7,Marguerite Yourcenar,,x\n8,y,z,w\n')
  schema = [{'name': 'id', 'type': 'INT64'}]
  _, dead, _ = run_chain(tmp_path / 'out', FileSourceConfig(str(tmp_path / 'a.csv'), 'csv'),
                         schema, ParseConfig(format='csv'))
  [record] = dead
  assert record['errorType'] == 'csv_invalid_header'
  assert record['errorMessage'].endswith('the header row has an empty column name (column 3 '
                                         'of 4)')
  assert record['payloadString'] == '7,Marguerite Yourcenar,,x'  # masked later, if a policy
  assert 'Yourcenar' not in caplog.text and 'Yourcenar' not in record['errorMessage']
  assert 'empty column name' in caplog.text


def test_stray_quote_and_unterminated_quote_are_invalid_csv(tmp_path):
  path = tmp_path / 'in.csv'
  path.write_bytes(b'id,name\n1,"a"b\n2,ok\n3,"never closed\n4,x\n')
  schema = [{'name': 'id', 'type': 'INT64'}, {'name': 'name', 'type': 'STRING'}]
  rows, dead, counters = run_chain(tmp_path / 'out', FileSourceConfig(str(path), 'csv'),
                                   schema)
  assert rows == [{'id': 2, 'name': 'ok'}]
  got = by_source(dead)
  assert {k: v['errorType'] for k, v in got.items()} == {
      f'{path}:2': 'invalid_csv', f'{path}:4': 'invalid_csv'}
  assert got[f'{path}:4']['payloadString'] == '3,"never closed\n4,x'
  assert counters[('read', 'records')] == 3


def test_gzip_csv_by_suffix_with_bom(tmp_path):
  import gzip
  path = tmp_path / 'in.csv.gz'
  path.write_bytes(gzip.compress(b'\xef\xbb\xbfid\n1\n2\n'))
  rows, dead, _ = run_chain(tmp_path / 'out', FileSourceConfig(str(path), 'csv'),
                            [{'name': 'id', 'type': 'INT64'}])
  assert dead == [] and sorted(r['id'] for r in rows) == [1, 2]


def test_gzip_jsonl_by_suffix(tmp_path):
  import gzip
  path = tmp_path / 'in.jsonl.gz'
  path.write_bytes(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
  rows, dead, _ = run_chain(tmp_path / 'out', FileSourceConfig(str(path), 'jsonl'),
                            [{'name': 'id', 'type': 'INT64'}])
  assert dead == [] and sorted(r['id'] for r in rows) == [1, 2]
