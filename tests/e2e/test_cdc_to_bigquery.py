"""cdc_to_bigquery in batch against the BigQuery emulator: a shuffled Debezium stream with every
hard case and every bad-change kind, the exact replica, history and dead letters, the
counting invariant, and a rerun that changes nothing."""

import decimal
import json
import random

import pytest

from beam_pipelines import cdc_to_bigquery

from cdc_events import SCHEMA, debezium, decimal_b64, postgres_source

pytestmark = pytest.mark.emulator


def src(ts, lsn):
  return postgres_source(ts, lsn)


def envelope_row(cid, name, cents=100, born=1, seen_us=1_000_000):
  return {'id': cid, 'name': name, 'balance': decimal_b64(cents), 'born': born, 'seen': seen_us}


GOOD = [
    # the snapshot: three rows at one LSN, told apart by the event time
    debezium('r', after=envelope_row(1, 'one'), source=postgres_source(1000, 100, 'true'),
             ts_ms=1001, envelope=True),
    debezium('r', after=envelope_row(2, 'two'), source=postgres_source(1000, 100, 'true'),
             ts_ms=1002, envelope=True),
    debezium('r', after=envelope_row(3, 'three', cents=-250),
             source=postgres_source(1000, 100, 'last'), ts_ms=1003, envelope=True),
    debezium('u', after=envelope_row(1, 'one-b'), source=src(2000, 200), ts_ms=2001,
             envelope=True),
    # no schema envelope: plain values only (the balance a JSON number)
    debezium('u', after={'id': 1, 'name': 'one-c', 'balance': 7.5,
                         'seen': '2026-01-01T00:00:00Z'}, source=src(3000, 300), ts_ms=3001),
    # PostgreSQL default replica identity: before is null, the key rides beside the value
    debezium('d', source=src(2500, 250), ts_ms=2501, key={'id': 2}),
    json.dumps({'key': {'id': 2}, 'value': None}),  # its tombstone
    debezium('c', after={'id': 2, 'name': 'two-again'}, source=src(4000, 400), ts_ms=4001),
    # a primary-key change: delete of 3, create of 103
    debezium('d', before={'id': 3}, source=src(3500, 350), ts_ms=3501),
    debezium('c', after={'id': 103, 'name': 'three'}, source=src(3500, 351), ts_ms=3502),
    # a late change that falls between two versions of 1
    debezium('u', after={'id': 1, 'name': 'one-late'}, source=src(2500, 260), ts_ms=2502),
    # two changes of 4 in one source millisecond: the later LSN wins
    debezium('c', after={'id': 4, 'name': 'four-a'}, source=src(5000, 500), ts_ms=5001),
    debezium('u', after={'id': 4, 'name': 'four-b'}, source=src(5000, 501), ts_ms=5001),
    # a key whose first known change is a delete; an older create arrives later
    debezium('d', before={'id': 5, 'name': 'x'}, source=src(6000, 600), ts_ms=6001),
    debezium('c', after={'id': 5, 'name': 'five-old'}, source=src(5500, 550), ts_ms=5501),
    json.dumps({'op': 'm', 'source': {'ts_ms': 7000, 'lsn': 700},
                'message': {'prefix': 'x', 'content': ''}}),
    'null',  # a bare tombstone
]
REDELIVERED = [GOOD[3], GOOD[11], GOOD[5]]
BAD = [
    ('{"op": "c", "after": {"id": 9', 'invalid_json'),
    ('', 'empty_record'),
    (json.dumps({'after': {'id': 9}, 'source': {'ts_ms': 1}}), 'cdc_malformed_envelope'),
    (json.dumps({'op': 'z', 'after': {'id': 9}, 'source': {'ts_ms': 1}}), 'cdc_unknown_op'),
    (debezium('d', source=src(8000, 800)), 'missing_primary_key'),
    (debezium('u', source=src(8000, 801)), 'cdc_missing_after'),
    (debezium('u', after={'id': 9, 'name': 5}, source=src(8000, 802)), 'type_mismatch:name'),
    (debezium('c', after={'name': 'no id'}, source=src(8000, 803)), 'missing_required:id'),
    (debezium('t', source=src(8000, 804)), 'cdc_truncate'),
    (json.dumps({'op': 'c', 'after': {'id': 9}}), 'cdc_missing_order'),
    (debezium('c', after=dict(envelope_row(9, 'x'), balance='@@'), source=src(8000, 805),
              envelope=True), 'cdc_undecodable:balance'),
    (debezium('c', after={'id': 9, 'balance': 'MDk='}, source=src(8000, 806)),
     'cdc_undecodable:balance'),  # text decimal without the schema, no --cdc_decimal_mode
]

EXPECTED_REPLICA = {1: 'one-c', 2: 'two-again', 4: 'four-b', 103: 'three'}


def write_input(tmp_path):
  lines = GOOD + REDELIVERED + [text for text, _ in BAD]
  random.Random(19).shuffle(lines)
  path = tmp_path / 'changes.jsonl'
  path.write_text('\n'.join(lines) + '\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(path), str(schema)


def rows(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def test_batch_run_applies_the_rules_and_a_rerun_changes_nothing(
    tmp_path, bigquery_emulator, bq_client, bq_dataset):
  path, schema = write_input(tmp_path)
  table = f'{bigquery_emulator.project}:{bq_dataset}.customers'
  argv = ['--input', path, '--schema', schema, '--primary_key', 'id', '--output_table', table,
          '--history_table', table + '_history', '--temp_location', str(tmp_path / 'tmp')]
  _, summary = cdc_to_bigquery.run(argv, print_summary=False)

  replica = {r['id']: r for r in rows(bq_client, f'SELECT * FROM {bq_dataset}.customers')}
  assert {k: r['name'] for k, r in replica.items()} == EXPECTED_REPLICA
  assert decimal.Decimal(replica[1]['balance']) == decimal.Decimal('7.5')
  assert replica[103]['balance'] is None and replica[2]['born'] is None
  history = rows(bq_client, f'SELECT id, name, balance, born, seen, valid_from, valid_to, '
                            f'is_current FROM {bq_dataset}.customers_history '
                            'ORDER BY id, _cdc_order')
  snap = next(r for r in history if r['id'] == 3)  # decoded with the envelope's schema
  assert decimal.Decimal(snap['balance']) == decimal.Decimal('-2.50')
  assert snap['born'].isoformat() == '1970-01-02'
  assert snap['seen'].isoformat() == '1970-01-01T00:00:01+00:00'
  assert snap['valid_from'].timestamp() == 1.0  # source.ts_ms 1000
  one = [(r['name'], r['is_current']) for r in history if r['id'] == 1]
  assert one == [('one', False), ('one-b', False), ('one-late', False), ('one-c', True)]
  four = [r for r in history if r['id'] == 4]
  assert four[0]['valid_from'] == four[0]['valid_to'] == four[1]['valid_from']
  assert [(r['name'], r['is_current']) for r in history if r['id'] == 5] == [
      ('five-old', False)]  # closed by the delete that came first in the file
  assert all(r['is_current'] is not None for r in history)

  dead = rows(bq_client, f'SELECT errorType, COUNT(*) AS n FROM '
                         f'{bq_dataset}.customers_error_records GROUP BY errorType')
  assert {r['errorType']: r['n'] for r in dead} == {
      'invalid_json': 1, 'empty_record': 1, 'cdc_malformed_envelope': 1,
      'cdc_unknown_op': 1, 'missing_primary_key': 1, 'cdc_missing_after': 1,
      'type_mismatch:name': 1, 'missing_required:id': 1, 'cdc_truncate': 1,
      'cdc_missing_order': 1, 'cdc_undecodable:balance': 2}
  cdc = summary['cdc']
  distinct = len(GOOD) - 3  # less the op m message and the two tombstones
  assert cdc['changes_read'] == len(GOOD) + len(REDELIVERED) + len(BAD)
  assert (cdc['changes_applied'], cdc['duplicates'], cdc['tombstones_skipped'],
          cdc['messages_skipped'], cdc['dead_letters']) == (distinct, len(REDELIVERED), 2, 1,
                                                           len(BAD))
  assert summary['counting_invariant']['holds']
  log_count = rows(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.customers_changelog')
  assert log_count == [{'n': distinct}]

  def snapshot():
    return {t: sorted(json.dumps(r, sort_keys=True, default=str) for r in rows(
        bq_client, f'SELECT * FROM {bq_dataset}.{t}'))
        for t in ('customers', 'customers_changelog', 'customers_history')}

  before = snapshot()
  _, again = cdc_to_bigquery.run(argv, print_summary=False)
  assert snapshot() == before  # replica, change log and history: unchanged
  assert again['cdc']['changes_applied'] == 0
  assert again['cdc']['duplicates'] == distinct + len(REDELIVERED)
  assert again['counting_invariant']['holds']
