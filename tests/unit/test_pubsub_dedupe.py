"""In-pipeline de-duplication by id attribute (transforms/read/pubsub_dedupe.py).

The pipeline test runs the sharded stateful step for real (TestPipeline); the expiry tests
drive the DoFn's process/timer methods with an in-memory state and a fake clock, because a
processing-time expiry cannot be made deterministic on a runner.
"""

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.read.pubsub_dedupe import (DedupeById, DedupeShardFn, IdExpiries,
                                                          shard_of)


class Message:
  def __init__(self, data, attributes):
    self.data, self.attributes = data, attributes


def test_the_first_message_of_each_id_passes_and_the_rest_are_counted():
  ids = ['a', 'b', 'a', 'c', 'b', 'a', None, 'd']
  p = TestPipeline()
  out = (p | beam.Create([Message(i, {'event_id': i} if i else {'other': 'x'})
                          for i in ids])
         | DedupeById('event_id', 600.0, shards=3)
         | beam.Map(lambda m: m.data))
  assert_that(out, equal_to(['a', 'b', 'c', None, 'd']))
  result = p.run()
  result.wait_until_finish()
  counters = {c.key.metric.name: c.committed for c in
              result.metrics().query(MetricsFilter().with_namespace('dedup'))['counters']}
  assert counters == {'unique': 4, 'duplicates': 3, 'no_id_attribute': 1}


def test_shards_are_stable_and_in_range():
  assert shard_of('evt-1', 16) == shard_of('evt-1', 16)
  shards = {shard_of(f'evt-{i}', 16) for i in range(1000)}
  assert shards == set(range(16))  # ids spread over every shard


class _State:
  def __init__(self):
    self.combine, self.acc = IdExpiries(), {}

  def read(self):
    return self.combine.extract_output(self.acc)

  def add(self, value):
    self.acc = self.combine.add_input(self.acc, value)

  def clear(self):
    self.acc = {}


class _Timer:
  def __init__(self):
    self.set_to = []

  def set(self, when):
    self.set_to.append(when)


def test_an_id_is_forgotten_exactly_after_the_given_seconds():
  now = [1000.0]
  fn = DedupeShardFn(10.0, clock=lambda: now[0])
  state, timer = _State(), _Timer()

  def passes(message_id):
    return list(fn.process((0, (message_id, message_id)), seen=state, cleanup=timer)) != []

  assert passes('a')
  now[0] = 1009.9
  assert not passes('a')        # within 10 s of the first: a duplicate
  assert passes('b')
  now[0] = 1010.1
  assert passes('a')            # 10 s after the first 'a': remembered no longer
  assert not passes('b')        # 'b' was first seen at 1009.9
  now[0] = 1019.95
  assert not passes('a')        # the second 'a' started a new 10 s


def test_the_cleanup_drops_expired_ids_only_and_rearms_while_ids_remain():
  now = [0.0]
  fn = DedupeShardFn(8.0, clock=lambda: now[0])
  state, timer = _State(), _Timer()
  list(fn.process((0, ('a', 'a')), seen=state, cleanup=timer))
  assert len(timer.set_to) == 1  # armed by the shard's first id
  now[0] = 5.0
  list(fn.process((0, ('b', 'b')), seen=state, cleanup=timer))
  assert len(timer.set_to) == 1  # not re-armed per message
  now[0] = 9.0
  fn.drop_expired(seen=state, cleanup=timer)
  assert state.read() == {'b': 13.0}
  assert len(timer.set_to) == 2
  now[0] = 14.0
  fn.drop_expired(seen=state, cleanup=timer)
  assert state.read() == {}
  assert len(timer.set_to) == 2  # nothing left: no timer


def test_merged_accumulators_keep_the_later_expiry():
  assert IdExpiries().merge_accumulators([{'a': 1.0, 'b': 5.0}, {'a': 3.0}]) == {
      'a': 3.0, 'b': 5.0}


@pytest.mark.parametrize('kwargs, message', [
    ({'id_attribute': '', 'seconds': 1.0}, 'id_attribute'),
    ({'id_attribute': 'id', 'seconds': 0}, 'seconds'),
    ({'id_attribute': 'id', 'seconds': 1.0, 'shards': 0}, 'shards'),
    ({'id_attribute': 'id', 'seconds': 1.0, 'shards': True}, 'shards'),
])
def test_bad_settings_are_refused_at_construction(kwargs, message):
  with pytest.raises(ValueError, match=message):
    DedupeById(**kwargs)
