"""Generates the bad-input corpus: data files + ``manifest.json`` (deterministic).

    python tests/corpus/generate.py            # rewrites tests/corpus/{jsonl,csv,avro,parquet}
                                               # and tests/corpus/manifest.json

Every case is one file. The manifest says, per case, which records of the file become dead
letters (1-based record number -> stable errorType and stage) and how many good rows it holds.
Cases too big to commit (payloads over 10 MB, 10,000-level nesting) are listed with
``"generated": "<name>"`` and written at test time by ``write_generated(name, path)``.

The expected errorTypes were written by hand from the documented contract (README
"The dead-letter table") and checked against the pipeline; a change in any of them is a
change of a stable contract and must be deliberate.
"""

import bz2
import datetime
import decimal
import gzip
import io
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, 'manifest.json')
UTC = datetime.timezone.utc

# One BigQuery schema for every format (CSV can carry only the flat columns).
SCHEMA = [
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'name', 'type': 'STRING'},
    {'name': 'amount', 'type': 'NUMERIC'},
    {'name': 'score', 'type': 'FLOAT64'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'd', 'type': 'DATE'},
    {'name': 'flag', 'type': 'BOOL'},
    {'name': 'b', 'type': 'BYTES'},
    {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [
        {'name': 'email', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'age', 'type': 'INT64'}]},
]
CSV_SCHEMA = [f for f in SCHEMA if f['type'] != 'RECORD' and f.get('mode') != 'REPEATED']
CSV_HEADER = ','.join(f['name'] for f in CSV_SCHEMA)
GOOD_JSON = b'{"id": 1, "name": "ok"}'
GOOD_CSV = b'1,ok,1.5,2.5,2026-01-01 00:00:00,2026-01-01,true,aGk='


class Corpus:
  def __init__(self):
    self.cases = []
    self.files = {}  # relative path -> bytes

  def add(self, fmt, category, name, data, expect, rows=0, generated=None, note=''):
    """expect: [(record number, errorType, stage)]; data: bytes, or None when generated."""
    ext = {'jsonl': 'jsonl', 'csv': 'csv', 'avro': 'avro', 'parquet': 'parquet'}[fmt]
    if name.endswith(('.gz', '.bz2')):
      ext, name = f'{ext}.{name.rsplit(".", 1)[1]}', name.rsplit('.', 1)[0]
    case_id = f'{fmt}-{category}-{name}'
    rel = f'{fmt}/{category}-{name}.{ext}'
    assert rel not in self.files and all(c['id'] != case_id for c in self.cases), case_id
    case = {'id': case_id, 'format': fmt, 'category': category, 'file': rel,
            'expect': [{'record': r, 'errorType': t, 'stage': s} for r, t, s in expect],
            'rows': rows}
    if note:
      case['note'] = note
    if generated:
      case['generated'] = generated
    else:
      self.files[rel] = data
    self.cases.append(case)


# ---- JSONL ------------------------------------------------------------------------------

def jsonl_cases(c):
  def one(category, name, line, error_type, stage='validate', note=''):
    c.add('jsonl', category, name, line + b'\n', [(1, error_type, stage)], note=note)

  malformed = [
      b'{', b'}', b'{"id": 1', b'{"id": 1,}', b"{'id': 1}", b'{id: 1}', b'[1, 2',
      b'{"id": 1} {"id": 2}', b'{"id": 01}', b'{"id": 1.}', b'{"id": .5}', b'{"id": +1}',
      b'{"id": 0x10}', b'{"id": "unterminated}', b'{"id": 1, "name": "\\x"}',
      b'{"id": 1, "name": "a\tb"}', b'{"id": 1, "name": "\\u12"}', b'{"id" 1}',
      b'{"id": 1 // comment}', b'{"id": 1 /* c */}', b'nul', b'tru', b'[1, 2,]',
      b'{"id": 1, "name": "x"]', b'{"id": 1,, "name": "x"}', b'{"id": -}', b'{"id": 1e}',
      b'{"id": undefined}', b'{"id": None}', b'{"id": True}', b'{1: 2}', b'"', b'{"id":',
      b'<xml>', b'id=1&name=x', b'{"id": 1}}', b'{"id": [1}', b'{"a": "\x00"}',
      b'\\', b',',
  ]
  for i, line in enumerate(malformed, 1):
    one('malformed_json', f'{i:03d}', line, 'invalid_json', 'parse')

  for i, line in enumerate([b'1', b'"text"', b'[]', b'[{"id": 1}]', b'null', b'true',
                            b'3.5', b'false'], 1):
    one('not_an_object', f'{i:03d}', line, 'not_an_object', 'validate')

  for i, line in enumerate([b'', b'   ', b'\t', b' \t  ', b'\r'], 1):
    one('empty_line', f'{i:03d}', line, 'empty_record', 'parse')
  c.add('jsonl', 'empty_line', 'between-good', GOOD_JSON + b'\n\n' + GOOD_JSON + b'\n',
        [(2, 'empty_record', 'parse')], rows=2)
  c.add('jsonl', 'empty_line', 'crlf-blank', GOOD_JSON + b'\r\n\r\n' + GOOD_JSON + b'\r\n',
        [(2, 'empty_record', 'parse')], rows=2)

  bom = b'\xef\xbb\xbf'
  c.add('jsonl', 'bom', 'start-of-file-is-skipped', bom + GOOD_JSON + b'\n' + b'{\n',
        [(2, 'invalid_json', 'parse')], rows=1,
        note='a BOM at the start of a file marks the file: the record is good')
  c.add('jsonl', 'bom', 'second-line', GOOD_JSON + b'\n' + bom + GOOD_JSON + b'\n',
        [(2, 'invalid_json', 'parse')], rows=1)
  c.add('jsonl', 'bom', 'double-bom', bom + bom + GOOD_JSON + b'\n',
        [(1, 'invalid_json', 'parse')])
  c.add('jsonl', 'bom', 'utf16-bom', b'\xff\xfe{\x00}\x00\n',
        [(1, 'invalid_encoding', 'parse')])

  invalid_utf8 = [b'{"id": 1, "name": "\xff"}', b'{"id": 1, "name": "\xc0\xaf"}',
                  b'{"id": 1, "name": "\xed\xa0\x80"}', b'{"id": 1, "name": "\xe2\x82"}',
                  b'{"id": 1, "name": "\x80abc"}', b'{"id": 1, "name": "\xf8\x88\x80\x80\x80"}',
                  b'{"id": 1, "name": "\xf4\x90\x80\x80"}', b'\xfe\xff',
                  b'{"id": 1, "\xff": 2}', b'{"id": 1, "name": "caf\xe9"}']
  for i, line in enumerate(invalid_utf8, 1):
    one('invalid_utf8', f'{i:03d}', line, 'invalid_encoding', 'parse')
  one('invalid_utf8', 'lone-surrogate-escape', b'{"id": 1, "name": "\\ud800"}',
      'invalid_value:name')

  rng = random.Random(9)
  for i in range(1, 9):
    garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 400)))
    garbage = garbage.replace(b'\n', b'\xff').replace(b'\r', b'\xff') + b'\xff'
    one('binary_garbage', f'{i:03d}', garbage, 'invalid_encoding', 'parse')
  for i, garbage in enumerate([b'\x00\x01\x02\x03', b'\x00' * 64, b'\x1b[31mred\x1b[0m',
                               b'\x7fELF\x02\x01\x01'], 9):
    one('binary_garbage', f'{i:03d}', garbage, 'invalid_json', 'parse')

  for name, line, t in [
      ('nan', b'{"id": 1, "score": NaN}', 'non_finite:score'),
      ('inf', b'{"id": 1, "score": Infinity}', 'non_finite:score'),
      ('neg-inf', b'{"id": 1, "score": -Infinity}', 'non_finite:score'),
      ('nan-string', b'{"id": 1, "score": "NaN"}', 'non_finite:score'),
      ('inf-string', b'{"id": 1, "score": "-Infinity"}', 'non_finite:score'),
      ('overflow-1e400', b'{"id": 1, "score": 1e400}', 'non_finite:score'),
      ('nan-in-int', b'{"id": NaN}', 'type_mismatch:id'),
      ('nan-in-numeric', b'{"id": 1, "amount": NaN}', 'non_finite:amount'),
      ('inf-in-numeric', b'{"id": 1, "amount": -Infinity}', 'non_finite:amount'),
      ('nan-nested', b'{"id": 1, "user": {"email": "e", "age": NaN}}', 'type_mismatch:user.age'),
      ('nan-in-string', b'{"id": 1, "name": NaN}', 'type_mismatch:name'),
  ]:
    one('nan_infinity', name, line, t)

  for name, value in [('2p63', b'9223372036854775808'), ('neg-2p63-1', b'-9223372036854775809'),
                      ('2p64', b'18446744073709551616'), ('2p100', str(2 ** 100).encode()),
                      ('huge', b'9' * 400)]:
    one('int_beyond_int64', name, b'{"id": ' + value + b'}', 'out_of_range:id')
  one('int_beyond_int64', 'nested-age', b'{"id": 1, "user": {"email": "e", "age": '
      + str(2 ** 63).encode() + b'}}', 'out_of_range:user.age')
  one('int_beyond_int64', 'float-1e19', b'{"id": 1e19}', 'out_of_range:id')

  for name, value, t in [
      ('30-int-digits', b'"123456789012345678901234567890"', 'out_of_range:amount'),
      ('10-frac-digits', b'"0.1234567891"', 'precision_exceeded:amount'),
      ('trailing-zeros-ok-but-id-bad', b'"0.1234567890", "id": "x"', 'type_mismatch:id'),
      ('both', b'"123456789012345678901234567890.1234567890"', 'out_of_range:amount'),
      ('neg-30-digits', b'"-123456789012345678901234567890"', 'out_of_range:amount'),
      ('exp-1e29', b'"1e29"', 'out_of_range:amount'),
      ('tiny-1e-10', b'"1e-10"', 'precision_exceeded:amount'),
      ('not-a-number', b'"1.2.3"', 'type_mismatch:amount'),
      ('number-1e30', b'1e30', 'out_of_range:amount'),
  ]:
    one('numeric_precision', name, b'{"id": 1, "amount": ' + value + b'}', t)
  one('numeric_precision', 'many-digits', b'{"id": 1, "amount": "0.' + b'1' * 39 + b'"}',
      'precision_exceeded:amount')
  one('numeric_precision', 'max-plus-one', b'{"id": 1, "amount": "1' + b'0' * 29 + b'"}',
      'out_of_range:amount')

  for name, value, t in [
      ('year-0', b'"0000-12-31T23:59:59Z"', 'invalid_value:ts'),
      ('epoch-just-beyond', b'253402300799.9999999', 'out_of_range:ts'),
      ('epoch-max', b'253402300799.999999, "id": "x"', 'type_mismatch:id'),
      ('year-10000', b'"10000-01-01T00:00:00Z"', 'invalid_value:ts'),
      ('before-min-by-offset', b'"0001-01-01T00:00:00+01:00"', 'out_of_range:ts'),
      ('after-max-by-offset', b'"9999-12-31T23:30:00-01:00"', 'out_of_range:ts'),
      ('epoch-too-big', b'253402300800', 'out_of_range:ts'),
      ('epoch-too-small', b'-62135596801', 'out_of_range:ts'),
      ('feb-30', b'"2024-02-30T00:00:00Z"', 'invalid_value:ts'),
      ('hour-25', b'"2024-01-01T25:00:00Z"', 'invalid_value:ts'),
      ('free-text', b'"yesterday"', 'invalid_value:ts'),
      ('bad-zone', b'"2024-01-01T00:00:00+25:00"', 'invalid_value:ts'),
      ('epoch-inf', b'1e400', 'out_of_range:ts'),
  ]:
    one('timestamp_range', name, b'{"id": 1, "ts": ' + value + b'}', t)
  one('timestamp_range', 'date-year-0', b'{"id": 1, "d": "0000-01-01"}', 'invalid_value:d')
  one('timestamp_range', 'date-13', b'{"id": 1, "d": "2024-13-01"}', 'invalid_value:d')

  wrong = {
      'id': [b'"abc"', b'1.5', b'true', b'{}', b'"1"'],
      'name': [b'1', b'true', b'{"a": 1}', b'2.5'],
      'amount': [b'true', b'{}', b'"abc"'],
      'score': [b'"abc"', b'true', b'{}', b'"1.5"'],
      'ts': [b'true', b'{}', b'"2024"'],
      'd': [b'20240101', b'true', b'"2024/01/01"'],
      'flag': [b'"yes"', b'1', b'"true"', b'{}'],
      'b': [b'12', b'"!!notbase64"', b'true'],
      'user': [b'"str"', b'5', b'true'],
  }
  for column, values in wrong.items():
    for i, value in enumerate(values, 1):
      t = f'type_mismatch:{column}'
      if (column == 'ts' and value == b'"2024"') or (column == 'd' and value == b'"2024/01/01"') \
         or (column == 'b' and value == b'"!!notbase64"'):
        t = f'invalid_value:{column}'
      one('wrong_type', f'{column}-{i}', b'{"id": 1, "' + column.encode() + b'": ' + value
          + b'}' if column != 'id' else b'{"id": ' + value + b'}', t)
  one('wrong_type', 'user.age', b'{"id": 1, "user": {"email": "e", "age": "x"}}',
      'type_mismatch:user.age')
  one('wrong_type', 'user.email', b'{"id": 1, "user": {"email": 5}}',
      'type_mismatch:user.email')
  one('wrong_type', 'tags-element', b'{"id": 1, "tags": ["a", 5]}', 'type_mismatch:tags')

  for name, line, t in [
      ('empty-object', b'{}', 'missing_required:id'),
      ('only-name', b'{"name": "x"}', 'missing_required:id'),
      ('null-id', b'{"id": null}', 'missing_required:id'),
      ('nested-email', b'{"id": 1, "user": {}}', 'missing_required:user.email'),
      ('nested-email-null', b'{"id": 1, "user": {"email": null}}',
       'missing_required:user.email'),
      ('case-different', b'{"ID2": 1}', 'missing_required:id'),
  ]:
    one('missing_required', name, line, t)

  for name, line, t in [
      ('id-array', b'{"id": [1]}', 'type_mismatch:id'),
      ('name-array', b'{"id": 1, "name": ["a"]}', 'type_mismatch:name'),
      ('user-array', b'{"id": 1, "user": [{"email": "e"}]}', 'type_mismatch:user'),
      ('score-array', b'{"id": 1, "score": [1.5]}', 'type_mismatch:score'),
      ('email-array', b'{"id": 1, "user": {"email": ["e"]}}', 'type_mismatch:user.email'),
  ]:
    one('repeated_where_scalar', name, line, t)
  for name, line, t in [
      ('tags-string', b'{"id": 1, "tags": "a"}', 'type_mismatch:tags'),
      ('tags-number', b'{"id": 1, "tags": 5}', 'type_mismatch:tags'),
      ('tags-object', b'{"id": 1, "tags": {"a": 1}}', 'type_mismatch:tags'),
      ('tags-null-element', b'{"id": 1, "tags": ["a", null]}', 'null_element:tags'),
      ('tags-nested-array', b'{"id": 1, "tags": [["a"]]}', 'type_mismatch:tags'),
  ]:
    one('scalar_where_repeated', name, line, t)

  # Damaged compressed files: the good lines before the damage are kept, the rest is one
  # read dead letter naming the file.
  body = b''.join(b'{"id": %d}\n' % i for i in range(1, 2001))
  gz = gzip.compress(body, mtime=0)
  c.add('jsonl', 'truncated_compressed', 'gzip.gz', gz[:len(gz) // 2],
        [('after_good', 'unreadable_file', 'read')], rows='some',
        note='rows = the lines before the truncation; 1 read dead letter')
  c.add('jsonl', 'truncated_compressed', 'gzip-header-only.gz', gz[:8],
        [(1, 'unreadable_file', 'read')])
  bz = bz2.compress(body)
  c.add('jsonl', 'truncated_compressed', 'bzip2.bz2', bz[:len(bz) // 2],
        [('after_good', 'unreadable_file', 'read')], rows='some')
  c.add('jsonl', 'corrupt_compressed', 'not-gzip.gz', b'this is not gzip\n',
        [(1, 'unreadable_file', 'read')])
  bad_crc = bytearray(gzip.compress(GOOD_JSON + b'\n', mtime=0))
  bad_crc[-8] ^= 0xFF
  c.add('jsonl', 'corrupt_compressed', 'bad-crc.gz', bytes(bad_crc),
        [('after_good', 'unreadable_file', 'read')], rows='some',
        note='the CRC is checked at the end: the line is read, then the damage reported')

  c.add('jsonl', 'oversize', 'payload-over-10mb', None, [(1, 'payload_too_large', 'parse')],
        generated='jsonl_over_10mb')
  c.add('jsonl', 'oversize', 'payload-over-10mb-after-good', None,
        [(2, 'payload_too_large', 'parse')], rows=1, generated='jsonl_over_10mb_after_good')
  c.add('jsonl', 'deep_nesting', 'arrays-10000', None, [(1, 'nesting_too_deep', 'parse')],
        generated='jsonl_nested_arrays_10000')
  c.add('jsonl', 'deep_nesting', 'objects-10000', None, [(1, 'nesting_too_deep', 'parse')],
        generated='jsonl_nested_objects_10000')
  one('deep_nesting', 'record-beyond-schema', b'{"id": 1, "user": {"email": {"a": {"b": 1}}}}',
      'type_mismatch:user.email')


def write_generated(name, path):
  """Writes a case too big to commit."""
  with open(path, 'wb') as f:
    if name == 'jsonl_over_10mb':
      f.write(b'{"id": 1, "name": "' + b'x' * (10 * 1024 * 1024 + 1) + b'"}\n')
    elif name == 'jsonl_over_10mb_after_good':
      f.write(GOOD_JSON + b'\n' + b'{"id": 2, "name": "' + b'y' * (11 * 1024 * 1024) + b'"}\n')
    elif name == 'jsonl_nested_arrays_10000':
      f.write(b'{"id": 1, "name": ' + b'[' * 10000 + b']' * 10000 + b'}\n')
    elif name == 'jsonl_nested_objects_10000':
      f.write(b'{"id": 1, "name": ' + b'{"a": ' * 10000 + b'1' + b'}' * 10000 + b'}\n')
    else:
      raise ValueError(f'unknown generated case {name!r}')


# ---- CSV --------------------------------------------------------------------------------

def csv_cases(c):
  header = CSV_HEADER.encode() + b'\n'

  def one(category, name, record, error_type, stage='validate', rows=0, line=2):
    c.add('csv', category, name, header + record + b'\n', [(line, error_type, stage)],
          rows=rows)

  for i, record in enumerate([b'1', b'1,a', b'1,a,1,2,2026-01-01,2026-01-01,true',
                              GOOD_CSV + b',extra', GOOD_CSV + b',,,', b',', b'1;a;1'], 1):
    one('column_count', f'{i:03d}', record, 'csv_column_count', 'parse')
  for i, record in enumerate([b'1,"a"b,1,2,,,,', b'1,"a""b,1,2,,,,'], 1):
    one('malformed_csv', f'{i:03d}', record, 'invalid_csv', 'parse')
  c.add('csv', 'malformed_csv', 'unterminated-quote', header + b'1,"abc,1,2,,,,\n',
        [(2, 'invalid_csv', 'parse')])
  for i, record in enumerate([b'1,\xff,1,2,,,,', b'1,caf\xe9,1,2,,,,',
                              b'1,\xed\xa0\x80,,,,,,', b'\xc0\xaf,a,,,,,,'], 1):
    one('invalid_utf8', f'{i:03d}', record, 'invalid_encoding', 'parse')
  c.add('csv', 'empty_line', 'between-good', header + GOOD_CSV + b'\n\n' + GOOD_CSV + b'\n',
        [], rows=2, note='a blank CSV line holds no record (documented): nothing to count')
  c.add('csv', 'empty_line', 'whitespace', header + b'   \n', [(2, 'empty_record', 'parse')])
  c.add('csv', 'bom', 'start-of-file-is-skipped', b'\xef\xbb\xbf' + header + GOOD_CSV
        + b'\n' + b'x,,,,,,,\n', [(3, 'type_mismatch:id', 'validate')], rows=1)
  c.add('csv', 'bom', 'second-record', header + GOOD_CSV + b'\n\xef\xbb\xbf' + GOOD_CSV
        + b'\n', [(3, 'type_mismatch:id', 'validate')], rows=1,
        note='a BOM before a record is not skipped: the id cell is not an integer')
  for name, cell, t in [
      ('id-text', b'abc', 'type_mismatch:id'), ('id-float', b'1.5', 'type_mismatch:id'),
      ('id-bool', b'true', 'type_mismatch:id'), ('id-2p63', b'9223372036854775808',
                                                  'out_of_range:id'),
      ('id-empty', b'', 'missing_required:id'),
  ]:
    one('wrong_type', name, cell + GOOD_CSV[1:], t)
  cols = [f['name'] for f in CSV_SCHEMA]
  good_cells = GOOD_CSV.split(b',')
  for column, cell, t in [
      ('amount', b'abc', 'type_mismatch:amount'),
      ('amount', b'123456789012345678901234567890', 'out_of_range:amount'),
      ('amount', b'0.1234567891', 'precision_exceeded:amount'),
      ('score', b'abc', 'type_mismatch:score'), ('score', b'NaN', 'non_finite:score'),
      ('score', b'Infinity', 'non_finite:score'),
      ('ts', b'yesterday', 'invalid_value:ts'), ('ts', b'0000-01-01 00:00:00', 'invalid_value:ts'),
      ('ts', b'253402300800', 'invalid_value:ts'),
      ('ts', b'9999-12-31 23:59:59-01:00', 'out_of_range:ts'),
      ('d', b'2024-02-30', 'invalid_value:d'), ('flag', b'yes', 'type_mismatch:flag'),
      ('b', b'!!', 'invalid_value:b'), ('d', b'2024-1-1x', 'invalid_value:d'),
  ]:
    cells = list(good_cells)
    cells[cols.index(column)] = cell
    one('wrong_type', f'{column}-{cell.decode()[:12]}', b','.join(cells), t)
  c.add('csv', 'bad_header', 'duplicate-column', b'id,id,name\n1,2,a\n',
        [(1, 'csv_invalid_header', 'read')])
  c.add('csv', 'bad_header', 'empty-column-name', b'id,,name\n1,2,a\n',
        [(1, 'csv_invalid_header', 'read')])
  c.add('csv', 'bad_header', 'unterminated-quote', b'id,"name\n',
        [(1, 'csv_invalid_header', 'read')])
  c.add('csv', 'missing_required', 'other-columns', b'foo,bar\n1,2\n3,4\n',
        [(2, 'missing_required:id', 'validate'), (3, 'missing_required:id', 'validate')])
  rng = random.Random(99)
  garbage = bytes(rng.randrange(256) for _ in range(300)).replace(b'\n', b' ')
  c.add('csv', 'binary_garbage', 'no-newline', b'a,b\n' + garbage + b'\n',
        [(2, 'invalid_encoding', 'parse')])
  gz = gzip.compress(header + b''.join(GOOD_CSV + b'\n' for _ in range(2000)), mtime=0)
  c.add('csv', 'truncated_compressed', 'gzip.gz', gz[:len(gz) // 2],
        [('after_good', 'unreadable_file', 'read')], rows='some')


# ---- Avro -------------------------------------------------------------------------------

AVRO_SCHEMA = {'type': 'record', 'name': 'E', 'fields': [
    {'name': 'id', 'type': 'long'}, {'name': 'name', 'type': ['null', 'string']}]}


def _avro(schema, records, codec='null', sync_interval=16000):
  import fastavro
  buf = io.BytesIO()
  fastavro.writer(buf, fastavro.parse_schema(schema), records, codec=codec,
                  sync_interval=sync_interval, sync_marker=b'corpus-sync-mark')
  return buf.getvalue()


def avro_cases(c):
  import fastavro  # noqa: F401
  many = [{'id': i, 'name': f'n{i}'} for i in range(1, 301)]
  small_blocks = _avro(AVRO_SCHEMA, many, sync_interval=200)
  c.add('avro', 'truncated', 'mid-file', small_blocks[:len(small_blocks) // 2],
        [('after_good', 'corrupt_avro_block', 'read')], rows='some')
  c.add('avro', 'truncated', 'in-header', small_blocks[:20], [(1, 'unreadable_file', 'read')])
  c.add('avro', 'truncated', 'magic-only', b'Obj\x01', [(1, 'unreadable_file', 'read')])
  c.add('avro', 'truncated', 'empty-file', b'', [(1, 'unreadable_file', 'read')])
  for codec in ('null', 'deflate'):
    data = bytearray(_avro(AVRO_SCHEMA, many, codec=codec, sync_interval=200))
    data[-10] ^= 0xFF  # inside the last sync marker
    c.add('avro', 'corrupt_block', f'sync-marker-{codec}', bytes(data),
          [('after_good', 'corrupt_avro_block', 'read')], rows='some')
  data = bytearray(_avro(AVRO_SCHEMA, many, codec='deflate', sync_interval=200))
  mid = len(data) // 2
  data[mid:mid + 8] = b'\xff' * 8  # inside a compressed block
  c.add('avro', 'corrupt_block', 'deflate-data', bytes(data),
        [('after_good', 'corrupt_avro_block', 'read')], rows='some')
  c.add('avro', 'binary_garbage', 'random', bytes(random.Random(3).randrange(256)
                                                  for _ in range(2000)),
        [(1, 'unreadable_file', 'read')])
  c.add('avro', 'binary_garbage', 'json-file', b'{"id": 1}\n', [(1, 'unreadable_file', 'read')])
  c.add('avro', 'binary_garbage', 'parquet-bytes', b'PAR1' + b'\x00' * 100 + b'PAR1',
        [(1, 'unreadable_file', 'read')])
  foreign = {'type': 'record', 'name': 'Other', 'namespace': 'x', 'fields': [
      {'name': 'foo', 'type': 'string'}, {'name': 'bar', 'type': 'double'}]}
  c.add('avro', 'foreign_schema', 'other-fields',
        _avro(foreign, [{'foo': 'a', 'bar': 1.0}, {'foo': 'b', 'bar': 2.0}]),
        [(1, 'missing_required:id', 'validate'), (2, 'missing_required:id', 'validate')])
  c.add('avro', 'foreign_schema', 'not-a-record',
        _avro('string', ['a', 'b']),
        [(1, 'not_an_object', 'validate'), (2, 'not_an_object', 'validate')])
  c.add('avro', 'foreign_schema', 'array-top',
        _avro({'type': 'array', 'items': 'long'}, [[1, 2]]), [(1, 'not_an_object', 'validate')])
  typed = {'type': 'record', 'name': 'T', 'fields': [
      {'name': 'id', 'type': ['null', 'long', 'string', {'type': 'array', 'items': 'long'}]},
      {'name': 'score', 'type': ['null', 'double', 'string']},
      {'name': 'amount', 'type': ['null', 'string', {'type': 'bytes', 'logicalType': 'decimal',
                                                       'precision': 40, 'scale': 12}]},
      {'name': 'tags', 'type': ['null', 'string', {'type': 'array', 'items': 'string'},
                                {'type': 'array', 'items': ['null', 'string']}]},
      {'name': 'ts', 'type': ['null', 'string', {'type': 'long',
                                                 'logicalType': 'timestamp-micros'}]},
      {'name': 'user', 'type': ['null', 'string', {'type': 'record', 'name': 'U', 'fields': [
          {'name': 'email', 'type': ['null', 'string']}]}]},
  ]}
  base = {'id': 1, 'score': None, 'amount': None, 'tags': None, 'ts': None, 'user': None}
  for name, change, t in [
      ('id-string', {'id': 'abc'}, 'type_mismatch:id'),
      ('id-null', {'id': None}, 'missing_required:id'),
      ('id-array', {'id': [1, 2]}, 'type_mismatch:id'),
      ('score-nan', {'score': float('nan')}, 'non_finite:score'),
      ('score-inf', {'score': float('inf')}, 'non_finite:score'),
      ('score-string', {'score': 'abc'}, 'type_mismatch:score'),
      ('amount-precision', {'amount': decimal.Decimal('1.000000000001')},
       'precision_exceeded:amount'),
      ('amount-range', {'amount': decimal.Decimal('1' * 30)}, 'out_of_range:amount'),
      ('tags-scalar', {'tags': 'a'}, 'type_mismatch:tags'),
      ('tags-null-element', {'tags': ['a', None]}, 'null_element:tags'),
      ('ts-text', {'ts': 'yesterday'}, 'invalid_value:ts'),
      ('user-string', {'user': 'u'}, 'type_mismatch:user'),
      ('user-no-email', {'user': {'email': None}}, 'missing_required:user.email'),
  ]:
    record = dict(base, **change)
    c.add('avro', 'wrong_type', name, _avro(typed, [record]), [(1, t, 'validate')])
  # timestamp-micros beyond datetime's range (year 10000+): fastavro cannot turn it into a
  # datetime. The record must still be accounted for.
  far = {'type': 'record', 'name': 'F', 'fields': [
      {'name': 'id', 'type': 'long'}, {'name': 'ts', 'type': 'long'}]}
  data = _avro(far, [{'id': 1, 'ts': 0}, {'id': 2, 'ts': 400000000000000000}])
  c.add('avro', 'timestamp_range', 'epoch-long-as-ts', data,
        [(2, 'out_of_range:ts', 'validate')], rows=1,
        note='a long in a TIMESTAMP column is seconds since the epoch')
  micros = {'type': 'record', 'name': 'M', 'fields': [
      {'name': 'id', 'type': 'long'},
      {'name': 'ts', 'type': {'type': 'long', 'logicalType': 'timestamp-micros'}}]}
  c.add('avro', 'timestamp_range', 'micros-beyond-9999',
        _avro(micros, [{'id': 1, 'ts': 0}, {'id': 2, 'ts': 400000000000000000},
                       {'id': 3, 'ts': 5}]),
        [(2, 'corrupt_avro_block', 'read')], rows=1,
        note='known limitation: fastavro raises OverflowError decoding the value, which stops '
             'the file reader; record 3 is not read but the dead letter says where reading '
             'stopped (reported, not silent)')
  many_bad = _avro(foreign, [{'foo': str(i), 'bar': 0.5} for i in range(50)])
  c.add('avro', 'foreign_schema', 'fifty-records', many_bad,
        [(i, 'missing_required:id', 'validate') for i in range(1, 51)])


# ---- Parquet ----------------------------------------------------------------------------

def _parquet(table, **kwargs):
  import pyarrow.parquet as pq
  buf = io.BytesIO()
  pq.write_table(table, buf, **kwargs)
  return buf.getvalue()


def parquet_cases(c):
  import pyarrow as pa
  good = pa.table({'id': pa.array(range(1, 501), pa.int64()),
                   'name': [f'n{i}' for i in range(1, 501)]})
  data = _parquet(good, row_group_size=100)
  c.add('parquet', 'truncated', 'footer-cut', data[:len(data) // 2],
        [(1, 'unreadable_file', 'read')])
  c.add('parquet', 'truncated', 'empty-file', b'', [(1, 'unreadable_file', 'read')])
  c.add('parquet', 'truncated', 'magic-only', b'PAR1', [(1, 'unreadable_file', 'read')])
  c.add('parquet', 'binary_garbage', 'random',
        bytes(random.Random(4).randrange(256) for _ in range(3000)),
        [(1, 'unreadable_file', 'read')])
  c.add('parquet', 'binary_garbage', 'avro-bytes', _avro(AVRO_SCHEMA, [{'id': 1, 'name': 'a'}]),
        [(1, 'unreadable_file', 'read')])
  checked = bytearray(_parquet(good, row_group_size=100, write_page_checksum=True,
                               compression='NONE'))
  # Damage the data of the third row group (rows 201-300): only it is lost.
  import pyarrow.parquet as pq
  meta = pq.ParquetFile(io.BytesIO(bytes(checked))).metadata
  column = meta.row_group(2).column(0)
  offset = column.data_page_offset + column.total_compressed_size // 2
  checked[offset:offset + 16] = b'\xee' * 16
  c.add('parquet', 'corrupt_page', 'row-group-3', bytes(checked),
        [(201, 'corrupt_parquet', 'read')], rows=400,
        note='the damaged row group costs its own 100 rows: one read dead letter')
  c.add('parquet', 'wrong_columns', 'other-names',
        _parquet(pa.table({'foo': ['a', 'b'], 'bar': [1.0, 2.0]})),
        [(1, 'missing_required:id', 'validate'), (2, 'missing_required:id', 'validate')])
  c.add('parquet', 'wrong_columns', 'no-columns-but-rows',
        _parquet(pa.table({'x': pa.array([None, None], pa.null())})),
        [(1, 'missing_required:id', 'validate'), (2, 'missing_required:id', 'validate')])
  for name, table, t in [
      ('id-string', pa.table({'id': ['abc']}), 'type_mismatch:id'),
      ('id-double', pa.table({'id': [1.5]}), 'type_mismatch:id'),
      ('id-null', pa.table({'id': pa.array([None], pa.int64())}), 'missing_required:id'),
      ('id-list', pa.table({'id': [[1, 2]]}), 'type_mismatch:id'),
      ('id-uint64-beyond', pa.table({'id': pa.array([2 ** 64 - 1], pa.uint64())}),
       'out_of_range:id'),
      ('score-nan', pa.table({'id': [1], 'score': [float('nan')]}), 'non_finite:score'),
      ('score-inf', pa.table({'id': [1], 'score': [float('-inf')]}), 'non_finite:score'),
      ('amount-scale', pa.table({'id': [1], 'amount': pa.array(
          [decimal.Decimal('1.0000000001')], pa.decimal128(20, 10))}),
       'precision_exceeded:amount'),
      ('amount-range', pa.table({'id': [1], 'amount': pa.array(
          [decimal.Decimal('1' * 35)], pa.decimal128(38, 0))}), 'out_of_range:amount'),
      ('tags-scalar', pa.table({'id': [1], 'tags': ['a']}), 'type_mismatch:tags'),
      ('tags-null-element', pa.table({'id': [1], 'tags': [['a', None]]}), 'null_element:tags'),
      ('name-list', pa.table({'id': [1], 'name': [['a']]}), 'type_mismatch:name'),
      ('user-scalar', pa.table({'id': [1], 'user': ['u']}), 'type_mismatch:user'),
      ('user-no-email', pa.table({'id': [1], 'user': pa.array(
          [{'age': 3}], pa.struct([('age', pa.int64())]))}), 'missing_required:user.email'),
      ('flag-int', pa.table({'id': [1], 'flag': [1]}), 'type_mismatch:flag'),
      ('d-string', pa.table({'id': [1], 'd': ['2024-02-30']}), 'invalid_value:d'),
  ]:
    c.add('parquet', 'wrong_type', name, _parquet(table), [(1, t, 'validate')])
  # A timestamp beyond year 9999: Python's datetime cannot hold it; the row must still be
  # accounted for (and the other rows of its row group kept).
  far = pa.table({'id': pa.array([1, 2, 3], pa.int64()),
                  'ts': pa.array([0, 400000000000000000, 0], pa.timestamp('us', tz='UTC'))})
  c.add('parquet', 'timestamp_range', 'year-beyond-9999', _parquet(far),
        [(2, 'unencodable_record', 'read')], rows=2)
  before = pa.table({'id': pa.array([1], pa.int64()),
                     'ts': pa.array([-63000000000000000], pa.timestamp('us', tz='UTC'))})
  c.add('parquet', 'timestamp_range', 'year-before-1', _parquet(before),
        [(1, 'unencodable_record', 'read')])


def build():
  c = Corpus()
  jsonl_cases(c)
  csv_cases(c)
  avro_cases(c)
  parquet_cases(c)
  return c


def main():
  c = build()
  for fmt in ('jsonl', 'csv', 'avro', 'parquet'):
    shutil.rmtree(os.path.join(HERE, fmt), ignore_errors=True)
    os.makedirs(os.path.join(HERE, fmt))
  for rel, data in c.files.items():
    with open(os.path.join(HERE, rel), 'wb') as f:
      f.write(data)
  with open(os.path.join(HERE, 'schema.json'), 'w', encoding='utf-8') as f:
    json.dump(SCHEMA, f, indent=1)
    f.write('\n')
  with open(os.path.join(HERE, 'csv_schema.json'), 'w', encoding='utf-8') as f:
    json.dump(CSV_SCHEMA, f, indent=1)
    f.write('\n')
  with open(MANIFEST, 'w', encoding='utf-8') as f:
    json.dump({'cases': c.cases}, f, indent=1, sort_keys=True)
    f.write('\n')
  print(f'{len(c.cases)} cases, {len(c.files)} files')
  return 0


if __name__ == '__main__':
  sys.exit(main())
