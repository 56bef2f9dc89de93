"""Timed batches (transforms/core/batches.py): streaming records travel in batches and keep
their own timestamps, so batching changes no output, no dead letter, no timestamp and no
window; the batched de-duplication removes exactly what the one-by-one step removes.

The pipeline tests run both paths on the same timestamped elements in one TestPipeline and
compare (value, timestamp) pairs and per-window counts; the de-dup state test drives both
DoFns with an in-memory state and a fake clock (a processing-time expiry cannot be made
deterministic on a runner).
"""

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.core.batches import (BatchBundles, BatchedFn, TimedBatches,
                                                    Unbatch, check_batched)
from beam_pipelines.transforms.read.events import ReadEvents
from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig, ReadPubSub
from beam_pipelines.transforms.read.pubsub_dedupe import (DedupeById, DedupeShardBatchFn,
                                                          DedupeShardFn, IdExpiries)


class _ToyFn(beam.DoFn):
  """Multiples of 5 are dead letters, multiples of 7 move 3 s later, others pass with the
  timestamp the DoFn saw (so a batch that hid the records' own timestamps would show)."""

  def process(self, x, timestamp=beam.DoFn.TimestampParam):
    if x % 5 == 0:
      yield beam.pvalue.TaggedOutput('dead', ('dead', x))
    elif x % 7 == 0:
      yield TimestampedValue(('moved', x), timestamp + 3)
    else:
      yield ('kept', x, timestamp.micros)


class _Reify(beam.DoFn):
  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    yield (element, timestamp.micros)


def _timestamped(values_and_seconds):
  return [TimestampedValue(v, s) for v, s in values_and_seconds]


def _both_paths(p, elements, size):
  """(element-wise outputs, batched outputs) of _ToyFn, each with its timestamps."""
  source = p | beam.Create(elements)
  one = source | 'OneByOne' >> beam.ParDo(_ToyFn()).with_outputs('dead', main='rows')
  batched = (source
             | 'Batch' >> beam.ParDo(BatchBundles(size))
             | 'Batched' >> beam.ParDo(BatchedFn(_ToyFn(), batch_size=size, timed=True))
             .with_outputs('dead', main='rows'))
  unbatched = batched.rows | 'Unbatch' >> Unbatch(timed=True)
  return ((one.rows, one.dead), (unbatched, batched.dead))


events = st.lists(st.tuples(st.integers(1, 200), st.integers(0, 100)), min_size=1,
                  max_size=40)


@settings(max_examples=8, deadline=None)
@given(events, st.integers(1, 6))
def test_timed_batches_give_every_output_and_dead_letter_its_own_timestamp(values, size):
  p = TestPipeline()
  (one_rows, one_dead), (batch_rows, batch_dead) = _both_paths(p, _timestamped(values), size)
  expected_rows, expected_dead = [], []
  for x, seconds in values:
    micros = seconds * 1_000_000
    if x % 5 == 0:
      expected_dead.append((('dead', x), micros))
    elif x % 7 == 0:
      expected_rows.append((('moved', x), micros + 3_000_000))
    else:
      expected_rows.append((('kept', x, micros), micros))
  for label, pcoll, expected in (('OneRows', one_rows, expected_rows),
                                 ('BatchRows', batch_rows, expected_rows),
                                 ('OneDead', one_dead, expected_dead),
                                 ('BatchDead', batch_dead, expected_dead)):
    assert_that(pcoll | f'Reify{label}' >> beam.ParDo(_Reify()), equal_to(expected),
                label=f'Check{label}')
  p.run().wait_until_finish()


def test_windows_after_unbatching_are_the_records_own():
  values = [(x, (x * 37) % 60) for x in range(1, 121)]
  p = TestPipeline()
  (one_rows, _), (batch_rows, _) = _both_paths(p, _timestamped(values), 8)

  def counts(rows, label):
    return (rows
            | f'Window{label}' >> beam.WindowInto(FixedWindows(10))
            | f'One{label}' >> beam.Map(lambda _: 1)
            | f'Count{label}' >> beam.CombineGlobally(sum).without_defaults()
            | f'WithWindow{label}' >> beam.ParDo(_WithWindowStart()))
  expected = {}
  for x, seconds in values:
    if x % 5:
      start = ((seconds + 3) if x % 7 == 0 else seconds) // 10 * 10
      expected[start] = expected.get(start, 0) + 1
  assert_that(counts(one_rows, 'One'), equal_to(sorted(expected.items())), label='CheckOne')
  assert_that(counts(batch_rows, 'Batch'), equal_to(sorted(expected.items())),
              label='CheckBatch')
  p.run().wait_until_finish()


class _WithWindowStart(beam.DoFn):
  def process(self, count, window=beam.DoFn.WindowParam):
    yield (window.start.micros // 1_000_000, count)


class Message:
  def __init__(self, data, attributes):
    self.data, self.attributes = data, attributes


@pytest.mark.parametrize('size', [1, 3, 50])
def test_batched_dedupe_removes_and_counts_what_one_by_one_does(size):
  ids = ['a', 'b', 'a', 'c', 'b', 'a', None, 'd', 'e', 'e', None, 'c', 'f', 'a']
  messages = [TimestampedValue(Message(f'{i}-{n}', {'event_id': i} if i else {}), n)
              for n, i in enumerate(ids)]
  p = TestPipeline()
  out = (p | beam.Create(messages)
         | beam.ParDo(BatchBundles(size))
         | DedupeById('event_id', 600.0, shards=3, batched=TimedBatches(size))
         | Unbatch(timed=True)
         | beam.ParDo(_Reify())
         | beam.Map(lambda pair: (pair[0].data, pair[1] // 1_000_000)))
  # The first of each id (and every message without one) passes, at its own timestamp.
  assert_that(out, equal_to([('a-0', 0), ('b-1', 1), ('c-3', 3), ('None-6', 6), ('d-7', 7),
                             ('e-8', 8), ('None-10', 10), ('f-12', 12)]))
  result = p.run()
  result.wait_until_finish()
  counters = {c.key.metric.name: c.committed for c in
              result.metrics().query(MetricsFilter().with_namespace('dedup'))['counters']}
  assert counters == {'unique': 6, 'duplicates': 6, 'no_id_attribute': 2}


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


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from('abcdef'), st.integers(0, 30)),
                         min_size=1, max_size=8), min_size=1, max_size=10))
def test_batched_dedupe_state_keeps_what_one_by_one_keeps(batches):
  """Batches of (id, clock seconds): the clock stands still within a batch (one call)."""
  one_state, batch_state = _State(), _State()
  one_timer, batch_timer = _Timer(), _Timer()
  clock = [0.0]
  one = DedupeShardFn(10.0, clock=lambda: clock[0])
  batched = DedupeShardBatchFn(10.0, clock=lambda: clock[0])
  now = 0.0
  for n, batch in enumerate(batches):
    now += batch[0][1]
    clock[0] = now
    kept_one = [m for i, (message_id, _) in enumerate(batch)
                for m in one.process((0, (message_id, f'{n}.{i}')), seen=one_state,
                                     cleanup=one_timer)]
    part = [(i, (message_id, f'{n}.{i}')) for i, (message_id, _) in enumerate(batch)]
    out = list(batched.process((0, part), seen=batch_state, cleanup=batch_timer))
    kept_batched = [m for tv in out for _, m in tv.value]
    assert kept_batched == kept_one
    assert batch_state.read() == one_state.read()
    assert bool(batch_timer.set_to) == bool(one_timer.set_to)


def test_bad_batch_settings_are_refused():
  with pytest.raises(ValueError, match='positive integer'):
    TimedBatches(0)
  with pytest.raises(ValueError, match='positive integer'):
    TimedBatches(True)
  with pytest.raises(ValueError, match='positive integer'):
    BatchBundles(0)
  assert check_batched(TimedBatches(4), 'X') == TimedBatches(4)
  config = PubSubSourceConfig(subscription='projects/p/subscriptions/s')
  with pytest.raises(ValueError, match='TimedBatches'):
    ReadEvents(config, batched=True)
  with pytest.raises(ValueError, match='TimedBatches'):
    ReadPubSub(config, batched=16)
  with pytest.raises(ValueError, match='TimedBatches'):
    DedupeById('event_id', 60.0, batched=8)
  ReadEvents(config, batched=TimedBatches(16))  # accepted


def test_pubsub_to_bigquery_batches_are_timed_and_0_turns_them_off():
  from beam_pipelines import pubsub_to_bigquery
  base = ['--input_subscription', 'projects/my-project/subscriptions/events', '--schema',
          'samples/events_schema.json', '--output_table', 'my-project:dataset.events']
  _, cfg = pubsub_to_bigquery.pipeline_options(base)
  assert cfg.batched == TimedBatches(512)
  _, cfg = pubsub_to_bigquery.pipeline_options([*base, '--batch_size', '64'])
  assert cfg.batched == TimedBatches(64)
  _, cfg = pubsub_to_bigquery.pipeline_options([*base, '--batch_size', '0'])
  assert cfg.batched is False
  with pytest.raises((ConfigError, SystemExit)):
    pubsub_to_bigquery.pipeline_options([*base, '--batch_size', '-3'])


def test_evolved_rows_join_timed_batches_at_their_own_time():
  """Schema drift 'evolve' rows join the validated rows' batches as batches of one: timed
  ones keep the row's timestamp (what chain_steps.handle_drift maps them with)."""
  from beam_pipelines.transforms.core.batches import timed_batch_of_one
  p = TestPipeline()
  out = (p | beam.Create([TimestampedValue({'n': n}, 10 * n) for n in range(5)])
         | beam.Map(timed_batch_of_one)
         | Unbatch(timed=True)
         | beam.ParDo(_Reify())
         | beam.Map(lambda pair: (pair[0]['n'], pair[1] // 1_000_000)))
  assert_that(out, equal_to([(n, 10 * n) for n in range(5)]))
  p.run().wait_until_finish()
