"""The Beam patch bigquery_row_size: the sizes Beam's streaming inserts check are objsize's,
computed without objsize's per-call scan of every module (hypothesis against objsize)."""

import datetime
import decimal

import objsize
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.beam_patches import bigquery_row_size
from beam_pipelines.transforms.beam_patches.bigquery_row_size import (fast_deep_size,
                                                                      plain_deep_size)

_ATOMS = (st.none() | st.booleans() | st.integers() | st.integers(-5, 300)
          | st.floats(allow_nan=False) | st.text(max_size=12) | st.sampled_from(['a', 'id', ''])
          | st.binary(max_size=8))
_KEYS = st.text(max_size=6) | st.integers(-3, 3)
_TREES = st.recursive(
    _ATOMS,
    lambda children: (st.lists(children, max_size=5) | st.tuples(children, children)
                      | st.dictionaries(_KEYS, children, max_size=5)
                      | st.dictionaries(st.text(max_size=6), children, max_size=5)),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_TREES, st.text(max_size=10))
def test_plain_rows_measure_what_objsize_measures(row, insert_id):
  assert plain_deep_size((row, insert_id)) == objsize.get_deep_size((row, insert_id))
  assert plain_deep_size(row) == objsize.get_deep_size(row)


@settings(max_examples=100, deadline=None)
@given(_TREES)
def test_shared_objects_count_once_as_in_objsize(row):
  shared = ['shared', 12345678901, row]
  tree = {'a': shared, 'b': [shared, shared], 'c': (row, row)}
  assert plain_deep_size(tree) == objsize.get_deep_size(tree)


def test_dicts_whose_keys_were_not_all_strings_measure_like_objsize():
  mixed = {1: 'a'}
  del mixed[1]
  mixed['x'] = 'y'  # all keys are str now, but the table is still a general one
  assert plain_deep_size(mixed) == objsize.get_deep_size(mixed)


def test_anything_but_plain_data_goes_to_objsize():
  calls = []

  def original(*objs, **kwargs):
    calls.append(objs)
    return objsize.get_deep_size(*objs, **kwargs)

  measure = fast_deep_size(original)
  for value in ({'n': decimal.Decimal('1.5')}, {'t': datetime.datetime(2026, 1, 1)},
                {'__name__': 'x'}, [object()]):
    assert measure(value) == objsize.get_deep_size(value)
  assert len(calls) == 4
  assert measure({'a': 1}) == objsize.get_deep_size({'a': 1})
  assert len(calls) == 4  # plain data never reached objsize
  assert measure({'a': 1}, {'b': 2}) == objsize.get_deep_size({'a': 1}, {'b': 2})
  assert len(calls) == 5


def test_apply_replaces_beams_name_once():
  from apache_beam.io.gcp import bigquery
  bigquery_row_size.apply()
  first = bigquery.get_deep_size
  bigquery_row_size.apply()
  assert bigquery.get_deep_size is first
  assert getattr(first, '_beam_pipelines_fast', False)
  row = ({'a': [1, 2, {'b': 'c'}], 'd': None}, 'insert-1')
  assert first(row) == objsize.get_deep_size(row)
