"""GDPR leak test: known PII seeded into good and bad records, files_to_bigquery run end to end
against the BigQuery emulator with a masking policy, every output scanned: zero raw values.

Input formats are a parameter (``WRITERS``): every input format has a writer that puts the
same PII into good records and into records failing at every stage that format can fail at
(read, parse, validate, mask), with that format's schema and policy (``CASES``: CSV cannot
carry RECORD/REPEATED columns, so it has a flat schema and policy with the same values).
``test_every_input_format_has_a_writer`` fails until a new format has one.

The ``mask`` stage cannot fail on valid rows by itself: the test injects a fault into the
``redact`` method for one seeded value (``PII['maskfail']``) so that stage is exercised too.
The ``sink`` stage is provoked for real: the output table is created beforehand with column
``channel`` as INT64 (the pipeline's masked schema says STRING), so BigQuery rejects the one
row that has a channel (``e5``) and the sink returns it as a dead letter.
"""

import base64
import csv
import datetime
import gzip
import io
import json
import logging
import os
from typing import Callable, NamedTuple

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.read.files import FILE_FORMATS

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'seen', 'type': 'TIMESTAMP'},
    {'name': 'n', 'type': 'INT64'},
    {'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED', 'fields': [
        {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'email', 'type': 'STRING'},
        {'name': 'phone', 'type': 'STRING'},
        {'name': 'name', 'type': 'STRING'},
        {'name': 'born', 'type': 'DATE'},
        {'name': 'address', 'type': 'RECORD', 'fields': [
            {'name': 'city', 'type': 'STRING'}, {'name': 'country', 'type': 'STRING'}]}]},
    {'name': 'device', 'type': 'RECORD', 'fields': [{'name': 'ip', 'type': 'STRING'}]},
    {'name': 'items', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'sku', 'type': 'STRING'}, {'name': 'gift_for', 'type': 'STRING'}]},
    {'name': 'notes', 'type': 'STRING'},
    {'name': 'channel', 'type': 'STRING'},
]
POLICY = """
version: 1
default: drop
fields:
  event_id: keep
  seen: keep
  n: keep
  user.id: hmac
  user.email: {method: partial, keep: email_domain}
  user.phone: {method: partial, keep_last: 2}
  user.name: redact
  user.born: {method: generalize, to: year}
  user.address.city: redact
  user.address.country: keep
  device.ip: {method: generalize, to: network}
  items.sku: keep
  items.gift_for: tokenize
  channel: keep
"""
# CSV is flat: the same columns without RECORDs (and no REPEATED items), the same methods.
CSV_COLUMNS = ['event_id', 'seen', 'n', 'user_id', 'email', 'phone', 'name', 'born', 'city',
               'country', 'ip', 'gift_for', 'notes', 'ssn', 'channel']
CSV_SCHEMA = (
    [{'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
     {'name': 'seen', 'type': 'TIMESTAMP'}, {'name': 'n', 'type': 'INT64'},
     {'name': 'user_id', 'type': 'STRING', 'mode': 'REQUIRED'}]
    + [{'name': c, 'type': 'STRING'} for c in ('email', 'phone', 'name')]
    + [{'name': 'born', 'type': 'DATE'}]
    + [{'name': c, 'type': 'STRING'}
       for c in ('city', 'country', 'ip', 'gift_for', 'notes', 'channel')])
CSV_POLICY = """
version: 1
default: drop
fields:
  event_id: keep
  seen: keep
  n: keep
  user_id: hmac
  email: {method: partial, keep: email_domain}
  phone: {method: partial, keep_last: 2}
  name: redact
  born: {method: generalize, to: year}
  city: redact
  country: keep
  ip: {method: generalize, to: network}
  gift_for: tokenize
  channel: keep
"""
ERASED = 'subj-LEAK-ERASED-77'
# Every value below is personal data that must not appear in any output, anywhere.
PII = {
    'id': 'subj-LEAK-0001', 'id2': 'subj-LEAK-0002', 'erased': ERASED,
    'email': 'zebulon.leakman@leak-mail.example', 'email2': 'quixote.q@leak-mail.example',
    'phone': '+44 20 7946 0958', 'phone2': '+33 1 70 36 39 50',
    'name': 'Zebulon Quixote-Leakman', 'city': 'Leakville-upon-Sea',
    'born': '1971-04-13', 'bad_born': '1971-04-31', 'ip': '198.51.100.23',
    'gift': 'Aunt Philippa Leakworth', 'notes': 'his PIN is 98127', 'ssn': '078-05-1120',
    'bad_ts': 'Leakville 2020', 'erased_email': 'erased.person@leak-mail.example',
    # a good record whose masking fails (injected fault): stage 'mask'
    'maskfail': 'Maskfail Leakbottom', 'maskfail_id': 'subj-LEAK-0004',
    # only in damaged file tails (read-stage dead letters)
    'tail_name': 'Tailend Leakfoot', 'tail_email': 'tailend.leakfoot@leak-mail.example',
    'tail_id': 'subj-LEAK-TAIL-9',
    # a good record BigQuery rejects (stage sink)
    'sinkfail_id': 'subj-LEAK-0005', 'sinkfail_email': 'sinkfail.leaker@leak-mail.example',
    # a CSV file whose first row (read as its header) is a data row
    'header_name': 'Headrow Leaksmith', 'header_email': 'headrow@leak-mail.example',
}


def good_records():
  return [
      {'event_id': 'e1', 'seen': '2026-01-01T00:00:00Z', 'n': 1,
       'user': {'id': PII['id'], 'email': PII['email'], 'phone': PII['phone'],
                'name': PII['name'], 'born': PII['born'],
                'address': {'city': PII['city'], 'country': 'GB'}},
       'device': {'ip': PII['ip']}, 'items': [{'sku': 'SKU-1', 'gift_for': PII['gift']}],
       'notes': PII['notes'], 'ssn': PII['ssn'], 'channel': '1'},
      {'event_id': 'e2', 'channel': '2', 'user': {'id': PII['id2'], 'email': PII['email2'],
                                                  'phone': PII['phone2']}},
      {'event_id': 'e3', 'user': {'id': ERASED, 'email': PII['erased_email']}},
      {'event_id': 'e4', 'user': {'id': PII['maskfail_id'], 'name': PII['maskfail'],
                                  'email': PII['email']}},
      {'event_id': 'e5', 'channel': 'web', 'user': {
          'id': PII['sinkfail_id'], 'email': PII['sinkfail_email'], 'name': PII['name'],
          'phone': PII['phone']}},
  ]


def bad_records():
  """(raw line, expected errorType) for every failure stage a JSONL record can reach."""
  full = json.dumps(good_records()[0])
  return [
      (full[:full.index('Leakman') + 3].encode(), 'invalid_json'),
      (json.dumps({'event_id': 'b2', 'user': {'id': PII['id'], 'born': PII['bad_born'],
                                               'name': PII['name']}}).encode(),
       'invalid_value:user.born'),
      (json.dumps({'event_id': 'b3', 'seen': PII['bad_ts'],
                   'user': {'id': PII['id2'], 'phone': PII['phone']}}).encode(),
       'invalid_value:seen'),
      (json.dumps({'event_id': 'b4', 'user': {'email': PII['email']}}).encode(),
       'missing_required:user.id'),
      (json.dumps([PII['email2'], PII['name'], PII['ip']]).encode(), 'not_an_object'),
      (json.dumps({'event_id': 'b6', 'user': {'id': PII['id'], 'city': PII['city']},
                   'n': PII['phone2']}).encode().replace(b'b6', b'b\xff6'),
       'invalid_encoding'),
      (json.dumps({'event_id': 'b7', 'n': 'x', 'user': {'id': ERASED, 'name': PII['name']}})
       .encode(), 'type_mismatch:n'),  # an erased subject's bad record: erased, not written
      (json.dumps({'event_id': 'b8', 'n': {'ssn': PII['ssn']},
                   'user': {'id': PII['id'], 'email': [PII['email']]}}).encode(),
       'type_mismatch:n'),
  ]


def _tail_record():
  return {'event_id': 't1', 'user': {'id': PII['tail_id'], 'name': PII['tail_name'],
                                     'email': PII['tail_email']}}


def write_jsonl(directory):
  """events.jsonl (good and bad lines) and events-tail.jsonl.gz, a gzip file cut in the middle
  of its only line (read stage: unreadable_file). Returns the input pattern."""
  path = os.path.join(directory, 'events.jsonl')
  lines = [json.dumps(r).encode() for r in good_records()] + [line for line, _ in bad_records()]
  with open(path, 'wb') as f:
    f.write(b'\n'.join(lines) + b'\n')
  tail = gzip.compress(json.dumps(_tail_record()).encode() * 4 + b'\n')
  with open(os.path.join(directory, 'events-tail.jsonl.gz'), 'wb') as f:
    f.write(tail[:len(tail) // 2])
  return os.path.join(directory, 'events*')


JSONL_DEAD = [t for line, t in bad_records() if b'ERASED' not in line] + [
    'unreadable_file', 'mask_failed', 'bigquery_insert:invalid']


# ---- CSV -----------------------------------------------------------------------------------

def _csv_line(cells):
  out = io.StringIO()
  csv.writer(out, lineterminator='').writerow(cells)
  return out.getvalue().encode()


def _csv_cells(record):
  user = record.get('user') or {}
  items = record.get('items') or [{}]
  return [record.get('event_id', ''), record.get('seen', ''), record.get('n', ''),
          user.get('id', ''), user.get('email', ''), user.get('phone', ''),
          user.get('name', ''), user.get('born', ''),
          (user.get('address') or {}).get('city', ''),
          (user.get('address') or {}).get('country', ''),
          (record.get('device') or {}).get('ip', ''), items[0].get('gift_for', ''),
          record.get('notes', ''), record.get('ssn', ''), record.get('channel', '')]


def csv_bad_lines():
  """(CSV record bytes, expected errorType) for the parse and validate stages of CSV."""
  e1 = _csv_cells(good_records()[0])
  row = dict(zip(CSV_COLUMNS, e1, strict=True))

  def line(**changes):
    return _csv_line([changes.get(c, row[c]) for c in CSV_COLUMNS])
  return [
      (_csv_line(e1 + [PII['name']]), 'csv_column_count'),
      (line(event_id='b2', born=PII['bad_born']), 'invalid_value:born'),
      (line(event_id='b3', seen=PII['bad_ts']), 'invalid_value:seen'),
      (line(event_id='b4', n=''), 'missing_required:user_id'),  # in events-other.csv
      # a stray quote: "..." followed by more text in the same cell
      (line(event_id='b5').replace(PII['name'].encode(),
                                   b'"' + PII['name'].encode() + b'" jr'), 'invalid_csv'),
      (line(event_id='b6', n=PII['phone2']).replace(b'b6', b'b\xff6'), 'invalid_encoding'),
      (line(event_id='b7', n='x', user_id=ERASED), 'type_mismatch:n'),  # erased
      (line(event_id='b8', n=PII['phone2']), 'type_mismatch:n'),
  ]


def write_csv(directory):
  """events.csv (header, good and bad records; the last record opens a quote it never closes:
  one invalid_csv dead letter to the end of the file) and events-noheader.csv, whose first
  row, read as the header, is a data row with an empty cell (read stage: csv_invalid_header,
  the whole file one dead letter)."""
  lines = [_csv_line(CSV_COLUMNS)]
  lines += [_csv_line(_csv_cells(r)) for r in good_records()]
  lines += [raw for raw, t in csv_bad_lines() if not t.startswith('missing_required')]
  lines.append(_csv_line(['b9', '', '', PII['id'], '']) + b',"' + PII['name'].encode()
               + b',' + PII['email'].encode())
  with open(os.path.join(directory, 'events.csv'), 'wb') as f:
    f.write(b'\n'.join(lines) + b'\n')
  # Another column order, without user_id: missing_required (an empty STRING cell is '').
  other = [c for c in CSV_COLUMNS if c != 'user_id'][::-1]
  row = dict(zip(CSV_COLUMNS, _csv_cells(good_records()[0]), strict=True), event_id='b4')
  with open(os.path.join(directory, 'events-other.csv'), 'wb') as f:
    f.write(_csv_line(other) + b'\n' + _csv_line([row[c] for c in other]) + b'\n')
  header_row = ['h1', '', '', PII['tail_id'], PII['header_email'], '', PII['header_name']]
  with open(os.path.join(directory, 'events-noheader.csv'), 'wb') as f:
    f.write(_csv_line(header_row) + b'\n' + _csv_line(_csv_cells(_tail_record())) + b'\n')
  return os.path.join(directory, 'events*.csv')


CSV_DEAD = [t for raw, t in csv_bad_lines() if ERASED.encode() not in raw] + [
    'invalid_csv', 'csv_invalid_header', 'mask_failed', 'bigquery_insert:invalid']


# ---- Avro ----------------------------------------------------------------------------------

def _nullable(*types):
  return {'type': ['null', *types], 'default': None}


AVRO_SCHEMA = {'type': 'record', 'name': 'Event', 'fields': [
    {'name': 'event_id', 'type': 'string'},
    {'name': 'seen', **_nullable('string', {'type': 'long', 'logicalType': 'timestamp-micros'})},
    {'name': 'n', **_nullable('long', 'string', {'type': 'map', 'values': 'string'})},
    {'name': 'user', 'type': {'type': 'record', 'name': 'User', 'fields': [
        {'name': 'id', **_nullable('string')},
        {'name': 'email', **_nullable('string', {'type': 'array', 'items': 'string'})},
        {'name': 'phone', **_nullable('string')},
        {'name': 'name', **_nullable('string')},
        {'name': 'born', **_nullable('string', {'type': 'int', 'logicalType': 'date'})},
        {'name': 'address', **_nullable({'type': 'record', 'name': 'Address', 'fields': [
            {'name': 'city', **_nullable('string')},
            {'name': 'country', **_nullable('string')}]})}]}},
    {'name': 'device', **_nullable({'type': 'record', 'name': 'Device', 'fields': [
        {'name': 'ip', **_nullable('string')}]})},
    {'name': 'items', 'type': {'type': 'array', 'items': {
        'type': 'record', 'name': 'Item', 'fields': [
            {'name': 'sku', **_nullable('string')},
            {'name': 'gift_for', **_nullable('string')}]}}, 'default': []},
    {'name': 'notes', **_nullable('string')},
    {'name': 'ssn', **_nullable('string')},
    {'name': 'channel', **_nullable('string')},
    # not in the table schema; invalid JSON text in it makes the record unencodable (read)
    {'name': 'extra', **_nullable({'type': 'string', 'sqlType': 'JSON'})},
]}


def _typed(record):
  """A good record with typed values (timestamp, date) where Avro/Parquet have types."""
  out = json.loads(json.dumps(record))
  if 'seen' in out:
    out['seen'] = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
  if out['user'].get('born'):
    out['user']['born'] = datetime.date.fromisoformat(out['user']['born'])
  return out


def avro_bad_records():
  """(record, expected errorType) for the read (unencodable) and validate stages."""
  full = _typed(good_records()[0])
  return [
      ({'event_id': 'b2', 'user': {'id': PII['id'], 'born': PII['bad_born'],
                                   'name': PII['name']}}, 'invalid_value:user.born'),
      ({'event_id': 'b3', 'seen': PII['bad_ts'], 'user': {'id': PII['id2'],
                                                          'phone': PII['phone']}},
       'invalid_value:seen'),
      ({'event_id': 'b4', 'user': {'email': PII['email']}}, 'missing_required:user.id'),
      ({'event_id': 'b7', 'n': 'x', 'user': {'id': ERASED, 'name': PII['name']}},
       'type_mismatch:n'),  # erased
      ({'event_id': 'b8', 'n': {'ssn': PII['ssn']},
        'user': {'id': PII['id'], 'email': [PII['email']]}}, 'type_mismatch:n'),
      ({**full, 'event_id': 'b9', 'extra': f'not JSON: {PII["name"]}'}, 'unencodable_record'),
  ]


def write_avro(directory):
  """events.avro: good and bad records in one block, then a second block (one record of
  other PII) cut in the middle: read stage, corrupt_avro_block."""
  path = os.path.join(directory, 'events.avro')
  schema = fastavro.parse_schema(AVRO_SCHEMA)
  records = [_typed(r) for r in good_records()] + [r for r, _ in avro_bad_records()]
  with open(path, 'wb') as f:
    fastavro.writer(f, schema, records, codec='null')
  size = os.path.getsize(path)
  with open(path, 'a+b') as f:
    fastavro.writer(f, schema, [_tail_record()], codec='null')
  with open(path, 'rb+') as f:
    tail = os.path.getsize(path) - size
    f.truncate(size + tail // 2)
  return path


AVRO_DEAD = [t for r, t in avro_bad_records() if r['user'].get('id') != ERASED] + [
    'corrupt_avro_block', 'mask_failed', 'bigquery_insert:invalid']


# ---- Parquet -------------------------------------------------------------------------------

_PQ_USER = pa.struct([('id', pa.string()), ('email', pa.string()), ('phone', pa.string()),
                      ('name', pa.string()), ('born', pa.date32()),
                      ('address', pa.struct([('city', pa.string()),
                                             ('country', pa.string())]))])
PARQUET_TYPED = pa.schema([
    ('event_id', pa.string()), ('seen', pa.timestamp('us', tz='UTC')), ('n', pa.int64()),
    ('user', _PQ_USER), ('device', pa.struct([('ip', pa.string())])),
    ('items', pa.list_(pa.struct([('sku', pa.string()), ('gift_for', pa.string())]))),
    ('notes', pa.string()), ('ssn', pa.string()), ('channel', pa.string()),
    ('session', pa.duration('s')),  # no JSON form: a row with one is unencodable (read)
])
# A second file with loose types: strings where the table wants TIMESTAMP, DATE, INT64.
PARQUET_LOOSE = pa.schema([
    ('event_id', pa.string()), ('seen', pa.string()), ('n', pa.string()),
    ('user', pa.struct([('id', pa.string()), ('email', pa.string()), ('phone', pa.string()),
                        ('name', pa.string()), ('born', pa.string())]))])


def parquet_bad_records():
  """(file, record, expected errorType) for the read (unencodable) and validate stages."""
  full = _typed(good_records()[0])
  return [
      ('typed', {'event_id': 'b4', 'user': {'email': PII['email'], 'name': PII['name']}},
       'missing_required:user.id'),
      ('typed', {**full, 'event_id': 'b9', 'session': datetime.timedelta(seconds=5)},
       'unencodable_record'),
      ('loose', {'event_id': 'b2', 'user': {'id': PII['id'], 'born': PII['bad_born'],
                                            'name': PII['name']}}, 'invalid_value:user.born'),
      ('loose', {'event_id': 'b3', 'seen': PII['bad_ts'], 'user': {'id': PII['id2'],
                                                                   'phone': PII['phone']}},
       'invalid_value:seen'),
      ('loose', {'event_id': 'b7', 'n': 'x', 'user': {'id': ERASED, 'name': PII['name']}},
       'type_mismatch:n'),  # erased
      ('loose', {'event_id': 'b8', 'n': PII['phone2'], 'user': {'id': PII['id'],
                                                                'email': PII['email']}},
       'type_mismatch:n'),
  ]


def write_parquet(directory):
  """events-typed.parquet: one row group per row, good and bad rows, then a row group of
  other PII whose page is damaged (page checksums on): read stage, corrupt_parquet.
  events-loose.parquet: values of the wrong types (validate stage)."""
  typed = [_typed(r) for r in good_records()]
  typed += [r for where, r, _ in parquet_bad_records() if where == 'typed']
  typed.append(_tail_record())
  path = os.path.join(directory, 'events-typed.parquet')
  pq.write_table(pa.Table.from_pylist(typed, schema=PARQUET_TYPED), path, row_group_size=1,
                 write_page_checksum=True, use_dictionary=False, compression='none')
  meta = pq.ParquetFile(path).metadata
  last = meta.row_group(meta.num_row_groups - 1)
  name_column = next(i for i in range(last.num_columns)
                     if last.column(i).path_in_schema == 'user.name')
  chunk = last.column(name_column)
  data = bytearray(open(path, 'rb').read())
  start = chunk.data_page_offset
  # The page header's statistics hold the value too: damage its last copy, in the page data.
  found = data.rindex(PII['tail_name'].encode(), start, start + chunk.total_compressed_size)
  data[found:found + 4] = b'XXXX'  # the rest of the value is still there; the checksum fails
  with open(path, 'wb') as f:
    f.write(bytes(data))
  loose = [r for where, r, _ in parquet_bad_records() if where == 'loose']
  pq.write_table(pa.Table.from_pylist(loose, schema=PARQUET_LOOSE),
                 os.path.join(directory, 'events-loose.parquet'))
  return os.path.join(directory, 'events-*.parquet')


PARQUET_DEAD = [t for _, r, t in parquet_bad_records() if r['user'].get('id') != ERASED] + [
    'corrupt_parquet', 'mask_failed', 'bigquery_insert:invalid']


# ---- the cases -----------------------------------------------------------------------------

class Case(NamedTuple):
  """One input format: its writer, table schema, policy, and what the run must produce."""
  write: Callable[[str], str]
  schema: list
  policy: str
  subject_field: str
  dead_letter_types: list   # errorTypes of the dead letters written (erased ones excluded)
  records_read: int
  paths: dict               # where e1's masked values are in an output row


NESTED_PATHS = {'id': 'user.id', 'email': 'user.email', 'ip': 'device.ip', 'born': 'user.born',
                'gift': 'items.0.gift_for', 'name': 'user.name', 'born_field': 'user.born'}
FLAT_PATHS = {'id': 'user_id', 'email': 'email', 'ip': 'ip', 'born': 'born',
              'gift': 'gift_for', 'name': 'name', 'born_field': 'born'}
CASES = {
    'jsonl': Case(write_jsonl, SCHEMA, POLICY, 'user.id', JSONL_DEAD,
                  len(good_records()) + len(bad_records()) + 1, NESTED_PATHS),
    'csv': Case(write_csv, CSV_SCHEMA, CSV_POLICY, 'user_id', CSV_DEAD,
                len(good_records()) + len(csv_bad_lines()) + 2, FLAT_PATHS),
    'avro': Case(write_avro, SCHEMA, POLICY, 'user.id', AVRO_DEAD,
                 len(good_records()) + len(avro_bad_records()) + 1, NESTED_PATHS),
    'parquet': Case(write_parquet, SCHEMA, POLICY, 'user.id', PARQUET_DEAD,
                    len(good_records()) + len(parquet_bad_records()) + 1, NESTED_PATHS),
}
WRITERS = {fmt: case.write for fmt, case in CASES.items()}


def test_every_input_format_has_a_writer():
  missing = sorted(set(FILE_FORMATS) - set(WRITERS))
  assert not missing, (f'add a leak-test writer for input format(s) {missing} to WRITERS in '
                       f'{__file__}: every format must be leak-tested')


def _dig(row, path):
  for part in path.split('.'):
    row = row[int(part)] if isinstance(row, list) else row[part]
  return row


def _all_rows_text(client, table):
  rows = [dict(r.items()) for r in client.list_rows(table)]
  text = json.dumps(rows, default=str, ensure_ascii=False)
  for row in rows:
    if isinstance(row.get('payloadBytes'), (bytes, bytearray)):
      text += bytes(row['payloadBytes']).decode('utf-8', 'replace')
  return rows, text


def _scan(haystacks):
  found = []
  for where, text in haystacks.items():
    for name, value in PII.items():
      if value in text:
        found.append((where, name, value))
  return found


def _inject_mask_fault(monkeypatch):
  """Makes ``redact`` raise for PII['maskfail'] (its message quotes the value): MaskPII must
  turn that row into a hashed 'mask' dead letter and log nothing of it."""
  from beam_pipelines.transforms.masking.methods import redact
  original = redact.compile

  def faulty_compile(spec, params, keys):
    fn = original(spec, params, keys)

    def faulty(value):
      if value == PII['maskfail']:
        raise RuntimeError(f'injected fault on {value}')
      return fn(value)
    return faulty
  monkeypatch.setattr(redact, 'compile', faulty_compile)


def _create_table_the_sink_rejects_e5_in(client, project, table, case):
  """The output table, created before the run with the masked schema except ``channel``
  INT64: e1 and e2 (channel '1', '2': BigQuery converts them) are written; e5's masked row
  (channel 'web') is rejected by BigQuery itself (stage sink)."""
  from google.cloud import bigquery

  from beam_pipelines.transforms.masking.binding import masked_schema
  fields = masked_schema(case.schema, case.policy).to_json()['fields']
  [channel] = [f for f in fields if f['name'] == 'channel']
  channel['type'] = 'INT64'
  client.create_table(bigquery.Table(f'{project}.{table}', schema=[
      bigquery.SchemaField.from_api_repr(f) for f in fields]))


def _attributes(dead_letter):
  return {a['key']: a['value'] for a in dead_letter['attributes']}


def _payload_text(dead_letter):
  raw = dead_letter['payloadBytes']
  raw = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
  return raw.decode('utf-8', 'replace')


def _run(tmp_path, case, input_format, argv_extra=(), policy=None):
  input_path = case.write(str(tmp_path))
  (tmp_path / 'schema.json').write_text(json.dumps(case.schema))
  (tmp_path / 'policy.yaml').write_text(policy or case.policy)
  return input_path, ['--input', input_path, '--input_format', input_format,
                      '--schema', str(tmp_path / 'schema.json'),
                      '--masking_policy', str(tmp_path / 'policy.yaml'),
                      '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY', *argv_extra]


@pytest.mark.parametrize('input_format', sorted(WRITERS))
@pytest.mark.parametrize('dead_letter_sink,dead_letter_payload,erase_refresh', [
    ('bigquery', 'mask', '0'), ('files', 'drop', '0'), ('bigquery', 'mask', '30')])
def test_no_raw_pii_in_any_output(tmp_path, bigquery_emulator, bq_client, bq_dataset, caplog,
                                  capfd, monkeypatch, input_format, dead_letter_sink,
                                  dead_letter_payload, erase_refresh):
  caplog.set_level(logging.INFO)
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  _inject_mask_fault(monkeypatch)
  case = CASES[input_format]
  _create_table_the_sink_rejects_e5_in(bq_client, bigquery_emulator.project,
                                       f'{bq_dataset}.events', case)
  (tmp_path / 'erase.txt').write_text(ERASED + '\n')
  _, argv = _run(tmp_path, case, input_format, [
      '--output_table', f'{bq_dataset}.events',
      '--dead_letter_payload', dead_letter_payload,
      '--erase_list', str(tmp_path / 'erase.txt'), '--subject_field', case.subject_field,
      '--erase_list_refresh_seconds', erase_refresh,
      # e5 is rejected by Beam's sink into a dead letter; a committed load (the default
      # --load_mode incremental) would fail as a whole on it instead
      '--load_mode', 'append'])
  if dead_letter_sink == 'files':
    argv += ['--dead_letter_sink', 'files', '--dead_letter_path', str(tmp_path / 'dl' / 'dead')]
  _, summary = files_to_bigquery.run(argv, print_summary=True)

  rows, rows_text = _all_rows_text(bq_client, f'{bq_dataset}.events')
  haystacks = {'output table': rows_text}
  if dead_letter_sink == 'bigquery':
    dead, haystacks['error table'] = _all_rows_text(bq_client,
                                                    f'{bq_dataset}.events_error_records')
  else:
    dead, files_text = [], ''
    for name in os.listdir(tmp_path / 'dl'):
      with open(tmp_path / 'dl' / name, encoding='utf-8') as f:
        for line in f:
          record = json.loads(line)
          dead.append(record)
          files_text += line + base64.b64decode(record['payloadBytes']).decode('utf-8',
                                                                              'replace')
    haystacks['dead-letter files'] = files_text
  captured = capfd.readouterr()
  haystacks['logs'] = caplog.text
  haystacks['stdout'] = captured.out
  haystacks['stderr'] = captured.err
  haystacks['summary'] = json.dumps(summary)

  assert _scan(haystacks) == []

  # The scan looked at real outputs: the expected rows and dead letters are there.
  paths = case.paths
  assert sorted(r['event_id'] for r in rows) == ['e1', 'e2']
  e1 = next(r for r in rows if r['event_id'] == 'e1')
  assert _dig(e1, paths['email']) == '***@leak-mail.example'
  assert _dig(e1, paths['id']).startswith('k') and ':' in _dig(e1, paths['id'])
  assert _dig(e1, paths['ip']) == '198.51.100.0/24'
  assert str(_dig(e1, paths['born'])) == '1971-01-01'
  assert _dig(e1, paths['gift']).startswith('tok_k')
  assert _dig(e1, paths['name']) == '[REDACTED]'
  assert 'notes' not in e1 and 'ssn' not in e1
  assert sorted(d['errorType'] for d in dead) == sorted(case.dead_letter_types)
  stages = {d['stage'] for d in dead}
  assert {'read', 'validate', 'mask', 'sink'} <= stages and ('parse' in stages) == (
      input_format in ('jsonl', 'csv'))
  masking = {d['errorType']: _attributes(d)['payload_masking'] for d in dead}
  if dead_letter_payload == 'drop':
    assert set(masking.values()) - {'premasked'} <= {'hashed', 'policy'}
  else:
    # Parsed payloads of every format got the policy (readable, masked), not a hash.
    bad_born = f'invalid_value:{paths["born_field"]}'
    assert masking[bad_born] == 'policy'
    born_dead = next(d for d in dead if d['errorType'] == bad_born)
    text = _payload_text(born_dead)
    assert 'b2' in text and '[REDACTED]' in text and 'notes' not in text
    if input_format == 'csv':
      columns = json.loads(_attributes(born_dead)['csv_columns'])
      assert 'notes' not in columns and 'ssn' not in columns and 'name' in columns
      [cells] = list(csv.reader(io.StringIO(text)))
      cell = dict(zip(columns, cells, strict=True))
      assert cell['event_id'] == 'b2' and cell['name'] == '[REDACTED]'
      assert cell['email'] == '***@leak-mail.example' and cell['country'] == 'GB'
      assert cell['user_id'].startswith('k') and cell['born'] == '1971-01-01'  # year only
    if input_format in ('avro', 'parquet'):
      assert masking['unencodable_record'] == 'policy'  # a read-stage payload, as JSON
  assert masking['mask_failed'] == 'premasked'
  sink_dead = next(d for d in dead if d['stage'] == 'sink')
  sink_row = json.loads(_payload_text(sink_dead))  # the masked row, as BigQuery refused it
  assert sink_row['event_id'] == 'e5' and sink_row['channel'] == 'web'
  assert _dig(sink_row, paths['email']) == '***@leak-mail.example'
  assert masking[sink_dead['errorType']] == 'premasked'
  mask_dead = next(d for d in dead if d['errorType'] == 'mask_failed')
  assert _payload_text(mask_dead).startswith('hmac-sha256:')
  assert 'Zebulon' not in haystacks.get('error table', haystacks.get('dead-letter files'))
  # Counting invariant with erasure: in == written + dead letters + erased.
  assert summary['records_read'] == case.records_read
  assert summary['erased'] == 2
  assert summary['records_read'] == (summary['rows_written'] + summary['dead_letters']
                                     + summary['erased'])
  assert summary['rows_written'] == len(rows) == 2


@pytest.mark.parametrize('write_method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_output_table_has_the_masked_schema(tmp_path, bigquery_emulator, bq_client, bq_dataset,
                                            monkeypatch, write_method):
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  input_path = write_jsonl(str(tmp_path))
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY)
  files_to_bigquery.run(['--input', input_path, '--schema', str(tmp_path / 'schema.json'),
                         '--output_table', f'{bq_dataset}.events',
                         '--masking_policy', str(tmp_path / 'policy.yaml'),
                         '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
                         '--write_method', write_method,
                         '--temp_location', str(tmp_path / 'tmp')],
                        print_summary=False)
  table = bq_client.get_table(f'{bq_dataset}.events')
  fields = {f.name: f for f in table.schema}
  assert sorted(fields) == ['channel', 'device', 'event_id', 'items', 'n', 'seen', 'user']
  user = {f.name: (f.field_type, f.mode) for f in fields['user'].fields}
  assert user['born'] == ('DATE', 'NULLABLE') and user['id'] == ('STRING', 'REQUIRED')
  assert [f.name for f in fields['items'].fields] == ['sku', 'gift_for']
  rows = {r['event_id']: dict(r.items()) for r in bq_client.list_rows(table)}
  assert sorted(rows) == ['e1', 'e2', 'e3', 'e4', 'e5']  # no erase list, no fault, no trap
  assert str(rows['e1']['user']['born']) == '1971-01-01'
  assert rows['e1']['items'][0]['gift_for'].startswith('tok_k')


@pytest.mark.parametrize('argv,message', [
    (['--masking_policy', '{policy}'], '--masking_key_source is required'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:NO_SUCH_VAR_WT6'],
     '--masking_key_source: masking key environment variable NO_SUCH_VAR_WT6 is not set'),
    (['--masking_key_source', 'env:X'], '--masking_key_source needs --masking_policy'),
    (['--masking_policy', '/no/policy.yaml', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY'],
     "--masking_policy: cannot read masking policy '/no/policy.yaml'"),
    (['--masking_policy', '{bad_policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY'],
     "--masking_policy: {bad_policy}: field path 'user.emial' is not in the input schema"),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list', 'x.txt'], '--subject_field is required with --erase_list'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--subject_field', 'user.nope'], "--subject_field: subject field 'user.nope' is not in"),
    (['--dead_letter_payload', 'shred'], '--dead_letter_payload must be one of mask|redact|drop'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list_refresh_seconds', '-5'], '--erase_list_refresh_seconds must be 0 or positive'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list', 'bigquery:not a table', '--subject_field', 'user.id'], '--erase_list:'),
])
def test_masking_configuration_errors_exit_2_naming_the_option(tmp_path, capsys, monkeypatch,
                                                               argv, message):
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY)
  (tmp_path / 'bad.yaml').write_text('default: drop\nfields:\n  user.emial: hmac\n')
  subs = {'{policy}': str(tmp_path / 'policy.yaml'), '{bad_policy}': str(tmp_path / 'bad.yaml')}

  def fill(text):
    for k, v in subs.items():
      text = text.replace(k, v)
    return text
  with pytest.raises(SystemExit) as exit_info:
    files_to_bigquery.run(['--input', 'x', '--schema', str(tmp_path / 'schema.json'),
                           '--output_table', 'my-project:d.t'] + [fill(a) for a in argv])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and fill(message) in err[0]


@pytest.mark.parametrize('input_format', sorted(WRITERS))
def test_negative_control_the_scan_finds_a_field_the_policy_keeps(tmp_path, bigquery_emulator,
                                                                  bq_client, bq_dataset,
                                                                  monkeypatch, input_format):
  # Same run with the name kept: the scan must find names in the output table and in the
  # dead letters the policy masked (every format, CSV included), or the leak test proves
  # nothing.
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  case = CASES[input_format]
  rule = 'user.name: redact' if case.policy is POLICY else 'name: redact'
  assert rule in case.policy
  _, argv = _run(tmp_path, case, input_format, ['--output_table', f'{bq_dataset}.events'],
                 policy=case.policy.replace(rule, rule.replace('redact', 'keep')))
  files_to_bigquery.run(argv, print_summary=False)
  _, rows_text = _all_rows_text(bq_client, f'{bq_dataset}.events')
  _, dead_text = _all_rows_text(bq_client, f'{bq_dataset}.events_error_records')
  assert sorted(_scan({'output table': rows_text, 'error table': dead_text})) == [
      ('error table', 'name', PII['name']),
      ('output table', 'maskfail', PII['maskfail']), ('output table', 'name', PII['name'])]
