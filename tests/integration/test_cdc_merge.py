"""The merge against the BigQuery emulator, batch by batch (``Merger``, the code the pipeline's
merge step runs): the replica and SCD2 rules of docs/cdc.md, case by case."""

import itertools
import json

import pytest

from beam_pipelines.transforms.cdc import MergeConfig, Merger, encode_order, to_changelog_row
from beam_pipelines.transforms.cdc.change import micros_text

pytestmark = pytest.mark.emulator
ROW_SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
              {'name': 'name', 'type': 'STRING'},
              {'name': 'attrs', 'type': 'RECORD', 'fields': [
                  {'name': 'tier', 'type': 'STRING'}]},
              {'name': 'doc', 'type': 'JSON'}]
_ids = itertools.count()


def change(op, key, seconds, name=None, lsn=0):
  """A change row as DecodeChanges makes it: source time ``seconds`` (s), then ``lsn``."""
  row = {} if op == 't' else {'id': key}
  if op in 'cru':
    row.update(name=name, attrs={'tier': name}, doc=json.dumps({'n': name}))
  micros = int(seconds * 1_000_000)
  row['_cdc'] = {'op': op, 'order': encode_order([micros * 1000, lsn]),
                 'position': {'source_ts_ns': micros * 1000, 'lsn': lsn},
                 'source_ts': micros_text(micros), 'source': {'lsn': lsn},
                 'source_id': f'test:{next(_ids)}',
                 'read_at': '2026-12-01T00:00:00.000000Z'}
  return to_changelog_row(row, ('id',))


@pytest.fixture
def merger(tmp_path, bq_client, bq_dataset):
  def make(apply_truncate=False):
    config = MergeConfig(
        replica=f'{bq_client.project}:{bq_dataset}.r',
        changelog=f'{bq_client.project}:{bq_dataset}.r_changelog',
        history=f'{bq_client.project}:{bq_dataset}.r_history', primary_key=('id',),
        staging_location=str(tmp_path / 'staging'), apply_truncate=apply_truncate)
    return Merger(config, ROW_SCHEMA).open()
  return make


def replica(client, dataset):
  return {r['id']: (r['name'], r['attrs']['tier'] if r['attrs'] else None, r['_cdc_op'])
          for r in client.query(f'SELECT * FROM {dataset}.r').result()}


def history(client, dataset, key):
  return [(r['name'], _secs(r['valid_from']), _secs(r['valid_to']), r['is_current'])
          for r in client.query(f'SELECT * FROM {dataset}.r_history WHERE id = {key} '
                                'ORDER BY _cdc_order').result()]


def _secs(moment):
  return None if moment is None else moment.timestamp()


def test_out_of_order_changes_in_one_batch(merger, bq_client, bq_dataset):
  outcome = merger().merge([change('u', 1, 3, 'c'), change('c', 1, 1, 'a'),
                            change('u', 1, 2, 'b')])
  assert outcome.applied == 3 and outcome.duplicates == 0 and outcome.keys == 1
  assert replica(bq_client, bq_dataset) == {1: ('c', 'c', 'u')}
  assert history(bq_client, bq_dataset, 1) == [('a', 1, 2, False), ('b', 2, 3, False),
                                               ('c', 3, None, True)]
  doc = list(bq_client.query(f'SELECT doc FROM {bq_dataset}.r').result())[0]['doc']
  assert doc == {'n': 'c'}  # a JSON column keeps its JSON value


def test_redeliveries_are_applied_once_in_and_across_batches(merger, bq_client, bq_dataset):
  m = merger()
  first = change('c', 1, 1, 'a')
  assert m.merge([first, first, change('u', 1, 2, 'b')])[1:3] == (2, 1)
  assert m.merge([first, change('u', 1, 2, 'b')])[1:3] == (0, 2)
  log = list(bq_client.query(f'SELECT COUNT(*) AS n FROM {bq_dataset}.r_changelog').result())
  assert log[0]['n'] == 2
  assert replica(bq_client, bq_dataset) == {1: ('b', 'b', 'u')}


def test_delete_then_reinsert_brings_the_key_back(merger, bq_client, bq_dataset):
  m = merger()
  m.merge([change('c', 1, 1, 'a')])
  assert replica(bq_client, bq_dataset) == {1: ('a', 'a', 'c')}
  m.merge([change('d', 1, 2)])  # a delete of a row the replica holds
  assert replica(bq_client, bq_dataset) == {}
  m.merge([change('c', 1, 3, 'again')])
  assert replica(bq_client, bq_dataset) == {1: ('again', 'again', 'c')}
  assert history(bq_client, bq_dataset, 1) == [('a', 1, 2, False), ('again', 3, None, True)]


def test_a_primary_key_change_is_a_delete_and_a_create(merger, bq_client, bq_dataset):
  m = merger()
  m.merge([change('c', 5, 1, 'five')])
  m.merge([change('d', 5, 2, lsn=1), change('c', 105, 2, 'five', lsn=2)])
  assert replica(bq_client, bq_dataset) == {105: ('five', 'five', 'c')}
  assert history(bq_client, bq_dataset, 5) == [('five', 1, 2, False)]
  assert history(bq_client, bq_dataset, 105) == [('five', 2, None, True)]


def test_a_late_change_never_overwrites_and_slots_into_the_history(merger, bq_client,
                                                                  bq_dataset):
  m = merger()
  m.merge([change('c', 1, 1, 'a'), change('u', 1, 3, 'c')])
  m.merge([change('u', 1, 2, 'b')])  # older than the replica's, arriving in a later merge
  assert replica(bq_client, bq_dataset) == {1: ('c', 'c', 'u')}
  assert history(bq_client, bq_dataset, 1) == [('a', 1, 2, False), ('b', 2, 3, False),
                                               ('c', 3, None, True)]


def test_a_key_deleted_first_gets_no_version_and_is_not_resurrected(merger, bq_client,
                                                                     bq_dataset):
  m = merger()
  m.merge([change('d', 7, 5)])
  assert replica(bq_client, bq_dataset) == {} and history(bq_client, bq_dataset, 7) == []
  m.merge([change('c', 7, 3, 'older')])  # an older create arrives after the delete
  assert replica(bq_client, bq_dataset) == {}
  assert history(bq_client, bq_dataset, 7) == [('older', 3, 5, False)]


def test_equal_source_times_the_later_position_wins(merger, bq_client, bq_dataset):
  merger().merge([change('u', 1, 4, 'second', lsn=9), change('u', 1, 4, 'first', lsn=8),
                  change('c', 1, 1, 'zero')])
  assert replica(bq_client, bq_dataset) == {1: ('second', 'second', 'u')}
  assert history(bq_client, bq_dataset, 1) == [('zero', 1, 4, False), ('first', 4, 4, False),
                                               ('second', 4, None, True)]
  nulls = list(bq_client.query(f'SELECT COUNTIF(is_current IS NULL) AS n FROM '
                               f'{bq_dataset}.r_history').result())[0]['n']
  assert nulls == 0


def test_an_applied_truncate_removes_older_rows_only(merger, bq_client, bq_dataset):
  m = merger(apply_truncate=True)
  m.merge([change('c', 1, 1, 'a'), change('c', 2, 1, 'b')])
  m.merge([change('t', None, 5), change('c', 3, 6, 'after')])
  assert replica(bq_client, bq_dataset) == {3: ('after', 'after', 'c')}
  assert history(bq_client, bq_dataset, 1) == [('a', 1, 5, False)]
  m.merge([change('u', 2, 4, 'late')])  # older than the truncate: stays removed
  assert replica(bq_client, bq_dataset) == {3: ('after', 'after', 'c')}
  assert history(bq_client, bq_dataset, 2) == [('b', 1, 4, False), ('late', 4, 5, False)]
  m.merge([change('u', 2, 7, 'back')])  # newer than the truncate: the key is back
  assert replica(bq_client, bq_dataset)[2] == ('back', 'back', 'u')


def test_merging_the_same_batches_again_changes_nothing(merger, bq_client, bq_dataset):
  batches = [[change('c', k, k, f'n{k}') for k in range(1, 6)],
             [change('u', 2, 9, 'x'), change('d', 3, 9), change('u', 4, 0.5, 'early')]]
  m = merger()
  for batch in batches:
    m.merge(batch)

  def snapshot():
    return {table: sorted(json.dumps(dict(r.items()), sort_keys=True, default=str)
                          for r in bq_client.query(
                              f'SELECT * EXCEPT(_cdc_read_at) FROM {bq_dataset}.{table}'
                              if table == 'r_changelog' else
                              f'SELECT * FROM {bq_dataset}.{table}').result())
            for table in ('r', 'r_changelog', 'r_history')}

  before = snapshot()
  again = merger()
  outcomes = [again.merge(batch) for batch in batches]
  assert [o.applied for o in outcomes] == [0, 0]
  assert snapshot() == before
