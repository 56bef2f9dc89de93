"""Chaos end to end: one files_to_bigquery run with many injected faults at every stage
(read, parse, validate, user function, sink), against the BigQuery emulator. Prints a table
of the injected faults and what became of them, and checks the counting invariant:
records in == rows written + dead letters + records removed on purpose."""

import collections
import gzip
import json

import pytest

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'},
          {'name': 'score', 'type': 'FLOAT64'},
          {'name': 'note', 'type': 'STRING'}]
UDF = '''
def chaos(row):
    if row['id'] > 1000:
        return row
    if row['id'] % 97 == 0:
        raise RuntimeError('user bug')       # fault: exception in user code
    if row['id'] % 89 == 0:
        return None                          # removed on purpose
    return row
'''


def test_chaos_summary_table(tmp_path, bigquery_emulator, bq_client, bq_dataset, capsys):
  from google.cloud import bigquery
  # fault: the table exists with `note INT64`: rows whose note is not a number are rejected
  # by BigQuery itself (stage sink).
  bq_client.create_table(bigquery.Table(
      f'{bigquery_emulator.project}.{bq_dataset}.events',
      schema=[bigquery.SchemaField('id', 'INT64', mode='REQUIRED'),
              bigquery.SchemaField('name', 'STRING'), bigquery.SchemaField('score', 'FLOAT64'),
              bigquery.SchemaField('note', 'INT64')]))
  inputs = tmp_path / 'in'
  inputs.mkdir()
  injected = collections.Counter()
  lines = []
  for i in range(1, 1001):
    row = {'id': i, 'name': f'n{i}', 'score': i / 10}
    if i % 50 == 0:
      row['note'] = 'text'                     # sink rejects
      injected['sink: schema mismatch'] += 1
    lines.append(json.dumps(row).encode())
  faults = [
      (b'{"id": 1001, "name": ', 'parse: malformed JSON'),
      (b'{"id": 1002, "name": "\xff\xfe"}', 'parse: invalid UTF-8'),
      (b'', 'parse: empty line'),
      (b'\x00\x01\x02garbage', 'parse: binary garbage'),
      (b'{"id": 9223372036854775808}', 'validate: INT64 overflow'),
      (b'{"id": 1003, "score": NaN}', 'validate: NaN'),
      (b'{"name": "no id"}', 'validate: missing required'),
      (b'{"id": [1004]}', 'validate: repeated where scalar'),
      (b'{"id": 1005, "score": "high"}', 'validate: wrong type'),
      (b'{"id": 1006, "name": ' + b'[' * 10000 + b']' * 10000 + b'}', 'parse: 10,000-deep'),
  ]
  for payload, fault in faults:
    lines.append(payload)
    injected[fault] += 1
  lines.append(json.dumps({'id': 1007, 'name': 'y' * (9 * 1024 * 1024 + 512 * 1024)}).encode())
  injected['sink: row over insertAll limit'] += 1
  (inputs / 'a.jsonl').write_bytes(b'\n'.join(lines) + b'\n')
  good_gz = gzip.compress(b''.join(b'{"id": %d}\n' % i for i in range(2001, 2301)), mtime=0)
  (inputs / 'b.jsonl.gz').write_bytes(good_gz[:len(good_gz) * 2 // 3])
  injected['read: truncated gzip (rest of file)'] += 1
  (inputs / 'c.jsonl').write_bytes(b'\xef\xbb\xbf{"id": 3001}\n{"id": 3002}\n')  # a BOM: fine
  injected['user: exception in --udf'] = sum(1 for i in range(1, 1001) if i % 97 == 0
                                            and i % 50 != 0)
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  udf = tmp_path / 'chaos_udf.py'
  udf.write_text(UDF)

  _, summary = files_to_bigquery.run([
      '--input', str(inputs / '*'), '--schema', str(schema),
      '--output_table', f'{bq_dataset}.events', '--udf', f'{udf}:chaos',
      # rows the sink rejects come back from Beam's sink as dead letters; a committed load
      # (--load_mode incremental, the default) fails as a whole on them instead
      '--load_mode', 'append'], print_summary=False)

  dead = [dict(r) for r in bq_client.query(
      f'SELECT stage, errorType FROM {bq_dataset}.events_error_records').result()]
  written = list(bq_client.query(
      f'SELECT COUNT(*) AS n FROM {bq_dataset}.events').result())[0]['n']
  by_stage = collections.Counter(d['stage'] for d in dead)
  by_type = collections.Counter(f"{d['stage']}/{d['errorType']}" for d in dead)
  removed = summary['counters'].get('user/dropped', 0)
  records_in = summary['records_read']

  table = ['', 'Chaos run: injected faults', f'  {"fault":<40}{"injected":>9}']
  table += [f'  {k:<40}{v:>9}' for k, v in sorted(injected.items())]
  table += ['  outcome (dead letters by stage/errorType)']
  table += [f'    {k:<46}{v:>7}' for k, v in sorted(by_type.items())]
  table += [f'  {"records in":<40}{records_in:>9}', f'  {"rows written":<40}{written:>9}',
            f'  {"dead letters":<40}{len(dead):>9}',
            f'  {"removed on purpose (udf drop)":<40}{removed:>9}',
            f'  in == written + dead + removed: {records_in} == {written} + {len(dead)} + '
            f'{removed}: {records_in == written + len(dead) + removed}']
  with capsys.disabled():
    print('\n'.join(table))

  assert by_stage['sink'] == injected['sink: schema mismatch'] + 1
  assert by_type['sink/bigquery_insert:row_too_large'] == 1
  assert by_stage['user'] == injected['user: exception in --udf']
  assert by_stage['read'] == 1
  assert by_stage['parse'] + by_stage['validate'] == len(faults)
  assert removed == sum(1 for i in range(1, 1001) if i % 89 == 0 and i % 97 != 0)
  assert len(dead) == summary['dead_letters']
  assert written == summary['rows_written']
  assert records_in == written + len(dead) + removed
  gz_rows = records_in - 1000 - len(faults) - 1 - 1 - 2  # lines read from the truncated gzip
  assert 0 < gz_rows < 300
