"""The bad-input corpus (tests/corpus/) through files_to_bigquery, against the BigQuery
emulator: one pipeline run per format.

For every case of ``tests/corpus/manifest.json``: each expected bad record lands in the
dead-letter table with its stable errorType and stage (and nothing else from that file does),
no run crashes, and records in == rows written + dead letters, checked both in the run's
counters and in what BigQuery holds.
"""

import collections
import json
import os
import shutil
import sys

import pytest

from beam_pipelines import files_to_bigquery

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'corpus')
sys.path.insert(0, CORPUS)
import generate  # noqa: E402  pylint: disable=wrong-import-position

MANIFEST = json.load(open(os.path.join(CORPUS, 'manifest.json'), encoding='utf-8'))['cases']
FORMATS = ('jsonl', 'csv', 'avro', 'parquet')


def test_manifest_is_large_varied_and_matches_the_generator():
  assert len(MANIFEST) >= 200
  categories = {c['category'] for c in MANIFEST}
  for needed in ('malformed_json', 'invalid_utf8', 'bom', 'empty_line', 'binary_garbage',
                 'oversize', 'deep_nesting', 'nan_infinity', 'int_beyond_int64',
                 'numeric_precision', 'timestamp_range', 'wrong_type', 'missing_required',
                 'repeated_where_scalar', 'scalar_where_repeated', 'truncated',
                 'corrupt_block', 'foreign_schema', 'wrong_columns', 'malformed_csv'):
    assert needed in categories, needed
  assert {c['format'] for c in MANIFEST} == set(FORMATS)
  # The committed files are exactly what the generator writes (the corpus is reproducible).
  built = generate.build()
  assert built.cases == MANIFEST
  for rel, data in built.files.items():
    with open(os.path.join(CORPUS, rel), 'rb') as f:
      assert f.read() == data, rel


def _expected_rows(case):
  """Good rows of a case; 'some' = the records before the read failure's position."""
  if case['rows'] != 'some':
    return case['rows']
  (failure,) = [e for e in case['expect'] if e['stage'] == 'read']
  return failure['record'] - (2 if case['format'] == 'csv' else 1)


@pytest.mark.emulator
@pytest.mark.parametrize('fmt', FORMATS)
def test_corpus_through_files_to_bigquery(tmp_path, bigquery_emulator, bq_client, bq_dataset,
                                          fmt):
  cases = [c for c in MANIFEST if c['format'] == fmt]
  os.makedirs(tmp_path / fmt)
  for case in cases:
    target = str(tmp_path / case['file'])
    if case.get('generated'):  # too big to commit: written now
      generate.write_generated(case['generated'], target)
    else:
      shutil.copy(os.path.join(CORPUS, case['file']), target)
  schema = os.path.join(CORPUS, 'csv_schema.json' if fmt == 'csv' else 'schema.json')

  _, summary = files_to_bigquery.run([
      '--input', str(tmp_path / fmt / '*'), '--input_format', fmt, '--schema', schema,
      '--output_table', f'{bq_dataset}.events'], print_summary=False)

  dead = [dict(r) for r in bq_client.query(
      f'SELECT sourceId, errorType, stage FROM {bq_dataset}.events_error_records').result()]
  got = collections.defaultdict(list)
  for d in dead:
    path, record = d['sourceId'].rsplit(':', 1)
    got[os.path.relpath(path, tmp_path)].append((int(record), d['errorType'], d['stage']))
  mismatches = []
  expected_rows = 0
  for case in cases:
    have = sorted(got.pop(case['file'], []))
    # 'after_good': the read failure's position is where reading stopped (any record).
    stopped = [g[0] for g in have if g[2] == 'read']
    expect = [dict(e, record=stopped[0] if e['record'] == 'after_good' and stopped else
                   e['record']) for e in case['expect']]
    want = sorted((e['record'], e['errorType'], e['stage']) for e in expect)
    if want != have:
      mismatches.append((case['id'], want, have))
    expected_rows += _expected_rows(dict(case, expect=expect))
  assert not mismatches, mismatches
  assert not got, f'dead letters from no case: {dict(got)}'

  n_dead = sum(len(c['expect']) for c in cases)
  written = bq_client.query(f'SELECT COUNT(*) AS n FROM {bq_dataset}.events').result()
  written = list(written)[0]['n']
  assert len(dead) == n_dead == summary['dead_letters']
  assert written == expected_rows == summary['rows_written']
  # The counting invariant, in the counters and in BigQuery.
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters']
  assert summary['records_read'] == written + len(dead)
