"""files_to_bigquery with --quality_rules and --summary_path against the BigQuery emulator:
the quality table's rows per window, quality dead letters, flags, and the JSON summary."""

import json

import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.runtime import summary as summary_mod

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'amount', 'type': 'NUMERIC'},
    {'name': 'ts', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
]
RULES = """
window_seconds: 3600
timestamp_field: ts
flag_field: dq_flags
rules:
  - {id: amount_present, kind: not_null, path: amount}
  - {id: amount_range, kind: range, path: amount, min: 0, max: 100}
  - {id: id_format, kind: regex, path: id, pattern: 'e[0-9]+', action: dead_letter}
  - {id: unique_id, kind: unique, path: id, action: dead_letter}
"""
LINES = [
    {'id': 'e1', 'amount': '10', 'ts': '2026-03-01T10:05:00Z'},
    {'id': 'e2', 'amount': None, 'ts': '2026-03-01T10:10:00Z'},     # flagged: not_null
    {'id': 'e3', 'amount': '1000', 'ts': '2026-03-01T10:20:00Z'},   # flagged: range
    {'id': 'bad', 'amount': '5', 'ts': '2026-03-01T10:30:00Z'},     # dead letter: regex
    {'id': 'e4', 'amount': '1', 'ts': '2026-03-01T11:00:00Z'},
    {'id': 'e4', 'amount': '2', 'ts': '2026-03-01T11:30:00Z'},      # dead letter: duplicate
]


def test_quality_table_dead_letters_flags_and_summary_json(tmp_path, bigquery_emulator,
                                                           bq_client, bq_dataset, capsys):
  data = tmp_path / 'in.jsonl'
  data.write_text('\n'.join(json.dumps(x) for x in LINES) + '\n{"id": "e9"\n')
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'rules.yaml').write_text(RULES)
  summary_path = tmp_path / 'out' / 'runs' / 'summary.json'  # folders created (issue 21)
  _, summary = files_to_bigquery.run([
      '--input', str(data), '--schema', str(tmp_path / 'schema.json'),
      '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.ev',
      '--quality_rules', str(tmp_path / 'rules.yaml'), '--summary_path', str(summary_path)])
  printed = capsys.readouterr().out

  scores = [dict(r.items()) for r in bq_client.query(
      f'SELECT FORMAT_TIMESTAMP("%FT%TZ", window_start) AS ws, rows, dead_lettered, flagged, '
      f'completeness, validity, uniqueness, freshness FROM {bq_dataset}.ev_quality '
      'ORDER BY ws').result()]
  assert scores == [
      # 10:00 window: 4 rows; amount null once (3/4); validity: range 3 checked, 1 failed +
      # regex 4 checked, 1 failed -> 5/7; uniqueness over e1, e2, e3 (bad dead-lettered) 3/3.
      {'ws': '2026-03-01T10:00:00Z', 'rows': 4, 'dead_lettered': 1, 'flagged': 2,
       'completeness': 0.75, 'validity': 0.714286, 'uniqueness': 1.0, 'freshness': None},
      {'ws': '2026-03-01T11:00:00Z', 'rows': 2, 'dead_lettered': 1, 'flagged': 0,
       'completeness': 1.0, 'validity': 1.0, 'uniqueness': 0.5, 'freshness': None},
  ]
  rows = {r['id']: list(r['dq_flags']) for r in bq_client.query(
      f'SELECT id, dq_flags FROM {bq_dataset}.ev').result()}
  assert rows == {'e1': [], 'e2': ['amount_present'], 'e3': ['amount_range'], 'e4': []}
  dead = sorted((r['errorType'], r['stage']) for r in bq_client.query(
      f'SELECT errorType, stage FROM {bq_dataset}.ev_error_records').result())
  assert dead == [('invalid_json', 'parse'), ('quality:id_format', 'quality'),
                  ('quality:unique_id', 'quality')]

  on_disk = json.loads(summary_path.read_text())
  assert on_disk == json.loads(json.dumps(summary, default=str))
  # The existing keys keep their meaning; the counting invariant still holds.
  assert (on_disk['records_read'], on_disk['rows_written'], on_disk['dead_letters']) == (7, 4, 3)
  assert on_disk['dead_letters_by_type'] == {'invalid_json': 1, 'quality:id_format': 1,
                                             'quality:unique_id': 1}
  quality = on_disk['quality']
  assert (quality['rows'], quality['dead_letters'], quality['flagged'],
          quality['windows_scored']) == (6, 2, 2, 2)
  assert quality['scores'] == {'completeness': 0.833333, 'validity': 0.818182,
                               'uniqueness': 0.8, 'freshness': None}
  assert quality['rules']['unique_id'] == {'checked': 5, 'failed': 1, 'pass_rate': 0.8}
  assert on_disk['stages']['parse'] == {'failed': 1, 'ok': 6}
  table = f'{bigquery_emulator.project}:{bq_dataset}.ev'
  assert on_disk['sources'] == [{'role': 'input', 'kind': 'jsonl', 'name': str(data)}]
  assert on_disk['sinks'] == [
      {'role': 'rows', 'kind': 'bigquery', 'name': table},
      {'role': 'dead_letters', 'kind': 'bigquery', 'name': table + '_error_records'},
      {'role': 'quality', 'kind': 'bigquery', 'name': table + '_quality'}]
  # Beam's lineage metrics, reported by our file source and BigQuery sink steps.
  assert on_disk['lineage']['sources'] == [f'filesystem:localhost.{data}'] or (
      on_disk['lineage']['sources'] == [f'filesystem:localhost.`{data}`'])
  assert sorted(on_disk['lineage']['sinks']) == sorted(
      f'bigquery:{bigquery_emulator.project}.{bq_dataset}.{t}'
      for t in ('ev', 'ev_error_records', 'ev_quality'))
  # The short console summary (issue 20) shows the invariant, the top types and the scores
  # in a line each; every counter is in the --verbose table (format_summary).
  assert ('  counting invariant: records read 7 == 4 rows written + 3 dead letters: OK'
          in printed.splitlines()), printed
  assert '  quality: completeness 0.8333, validity 0.8182, uniqueness 0.8000 (2 window(s), ' \
      '2 rows flagged)' in printed.splitlines(), printed
  assert 'per stage and outcome' not in printed and len(printed.splitlines()) < 20
  full = summary_mod.format_summary(summary, 'T')
  assert 'quality (run; 6 rows, 2 dead letters, 2 flagged, 2 window(s) scored)' in full
  assert 'rule unique_id' in full and 'lineage (Beam metrics)' in full


def test_summary_keeps_existing_keys_and_formats_without_quality():
  counters = {('read', 'records'): 3, ('sink', 'rows_attempted'): 2,
              ('dead_letters', 'total'): 1, ('dead_letters', 'invalid_json'): 1,
              ('parse', 'ok'): 2}
  built = summary_mod.build_summary(counters, {'extra_key': 1})
  assert {k: built[k] for k in ('records_read', 'rows_written', 'dead_letters', 'erased',
                                'files_read', 'dead_letters_by_type', 'extra_key')} == {
      'records_read': 3, 'rows_written': 2, 'dead_letters': 1, 'erased': 0, 'files_read': 0,
      'dead_letters_by_type': {'invalid_json': 1}, 'extra_key': 1}
  assert built['quality'] is None and built['drift'] == {}
  assert built['stages'] == {'parse': {'ok': 2}, 'read': {'records': 3},
                             'sink': {'rows_attempted': 2}}
  text = summary_mod.format_summary(built, 'T')
  assert 'records read' in text and 'quality' not in text


def test_periodic_summary_emits_while_running():
  import threading

  class FakeResult:
    def metrics(self):
      class M:
        def query(self, f=None):
          return {'counters': [], 'bounded_tries': []}
      return M()

  seen = []
  done = threading.Event()

  def log(text):
    seen.append(text)
    done.set()

  with summary_mod.PeriodicSummary(FakeResult(), 0.05, 'streaming', log=log) as periodic:
    assert done.wait(5)
  assert seen[0].startswith('streaming') and periodic.last['records_read'] == 0
