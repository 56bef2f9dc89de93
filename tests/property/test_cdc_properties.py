"""Properties of change data capture.

- ``encode_order`` keeps the order of any tuples of ints, texts and NULLs (pure Python).
- Random change streams (few keys, colliding source times and positions, deletes, exact
  redeliveries, optional truncates), shuffled and cut into one to three merges, are merged
  into the BigQuery emulator by ``Merger`` (the code the pipeline's merge step runs); the
  replica and the SCD2 history must equal what the plain-Python model of the rules
  (tests/cdc_model.py) computes from the same changes.
"""

import itertools

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.cdc import MergeConfig, Merger, encode_order, to_changelog_row
from beam_pipelines.transforms.cdc.change import micros_text

import cdc_model

COMPONENTS = st.one_of(st.none(), st.integers(min_value=-10 ** 30, max_value=10 ** 30),
                       st.text(max_size=6))


def _key(value):
  """Python's order of mixed components, as documented: None < int < str."""
  return tuple((0, 0) if v is None else (1, v) if isinstance(v, int) else (2, v.encode())
               for v in value)


@settings(max_examples=400, deadline=None)
@given(a=st.lists(COMPONENTS, max_size=4), b=st.lists(COMPONENTS, max_size=4))
def test_encoded_orders_compare_like_the_tuples(a, b):
  ea, eb = encode_order(a), encode_order(b)
  assert (ea < eb) == (_key(a) < _key(b))
  assert (ea == eb) == (_key(a) == _key(b))


CHANGE = st.tuples(
    st.sampled_from('crud'),           # op
    st.integers(min_value=1, max_value=4),   # key
    st.integers(min_value=1, max_value=6),   # source time (s): collisions on purpose
    st.integers(min_value=0, max_value=2),   # log position
    st.sampled_from(['a', 'b', 'c', 'd']))   # the row's value
TRUNCATE = st.tuples(st.integers(min_value=1, max_value=6), st.integers(min_value=0,
                                                                        max_value=2))
_tables = itertools.count()


def _change_row(op, key, seconds, lsn, name):
  row = {} if op == 't' else {'id': key}
  if op in 'cru':
    row['name'] = name
  micros = seconds * 1_000_000
  row['_cdc'] = {'op': op, 'order': encode_order([micros * 1000, lsn]),
                 'position': {'source_ts_ns': micros * 1000, 'lsn': lsn},
                 'source_ts': micros_text(micros), 'source': {}, 'source_id': 'p',
                 'read_at': micros_text(0)}
  return to_changelog_row(row, ('id',))


@pytest.mark.slow
@pytest.mark.emulator
# No shrinking: each example costs merges against the emulator, and shrinking a failure took
# minutes; the failing example is printed as generated.
@settings(max_examples=20, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data(),
       changes=st.lists(CHANGE, min_size=1, max_size=14,
                        unique_by=lambda c: (c[1], c[2], c[3])),
       truncates=st.lists(TRUNCATE, max_size=2, unique=True))
def test_replica_and_history_match_the_model(tmp_path, bq_client, bq_dataset, data, changes,
                                              truncates):
  apply_truncate = bool(truncates)
  rows = [_change_row(*c) for c in changes] + [
      _change_row('t', None, s, lsn, None) for s, lsn in truncates]
  redelivered = data.draw(st.lists(st.sampled_from(rows), max_size=4), label='redeliveries')
  stream = data.draw(st.permutations(rows + redelivered), label='arrival order')
  cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=2), label='cuts'))
  batches = [stream[i:j] for i, j in zip([0] + cuts, cuts + [len(stream)], strict=True)]

  name = f'p{next(_tables)}'
  merger = Merger(MergeConfig(
      replica=f'{bq_client.project}:{bq_dataset}.{name}',
      changelog=f'{bq_client.project}:{bq_dataset}.{name}_log',
      history=f'{bq_client.project}:{bq_dataset}.{name}_history', primary_key=('id',),
      staging_location=str(tmp_path / 'staging'), apply_truncate=apply_truncate),
      [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
       {'name': 'name', 'type': 'STRING'}]).open()
  applied = sum(merger.merge(batch).applied for batch in batches if batch)

  model_changes = [{'key': r['id'] if r['_cdc_op'] != 't' else None, 'op': r['_cdc_op'],
                    'order': r['_cdc_order'], 'id': r['_cdc_change_id'],
                    'ts': r['_cdc_source_ts'], 'row': r.get('name')} for r in stream]
  assert applied == len(cdc_model.distinct(model_changes))
  expected_replica = {k: c['row'] for k, c in
                      cdc_model.replica(model_changes, apply_truncate).items()}
  got_replica = {r['id']: r['name'] for r in bq_client.query(
      f'SELECT id, name FROM {bq_dataset}.{name}').result()}
  assert got_replica == expected_replica
  expected_history = {k: [(row, frm, to, cur) for row, frm, to, cur in versions]
                      for k, versions in cdc_model.history(model_changes,
                                                           apply_truncate).items()}
  got_history = {}
  for r in bq_client.query(f'SELECT * FROM {bq_dataset}.{name}_history '
                           'ORDER BY id, _cdc_order').result():
    got_history.setdefault(r['id'], []).append(
        (r['name'], micros_text(_micros(r['valid_from'])),
         None if r['valid_to'] is None else micros_text(_micros(r['valid_to'])),
         r['is_current']))
  assert got_history == expected_history


def _micros(moment):
  import datetime
  epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
  return (moment - epoch) // datetime.timedelta(microseconds=1)
