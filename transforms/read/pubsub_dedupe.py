"""De-duplication of Pub/Sub messages by an id attribute, inside the pipeline.

Used where the runner has no native de-duplication (every runner but Dataflow; see
``pubsub.py``). The first message with an id passes; a later message with the same id
within ``seconds`` of processing time after the first is removed and counted
(``dedup/duplicates``). Messages without the attribute pass (``dedup/no_id_attribute``).

Why shards, not one key per id: the idiomatic form (key by the id, a state cell and a
processing-time timer per id) costs the Python DirectRunner a keyed work item, a state commit
and a timer per *message*; measured at 50 msg/s it held rows back ~4.5 s (p50 4.87 s with it,
0.35 s without, BENCHMARKS.md Round 3). Here the ids are spread over ``shards`` keys
(a stable hash of the id); each shard keeps {id: expiry} in one combining state, read once
and written once per bundle, and a processing-time timer per shard drops expired ids every
``seconds / 8`` (at least 1 s). The expiry itself is checked on every message, so the
cleanup's period never changes what is removed. State lives where the runner keeps state: on
the DirectRunner in memory, so (as before) a restarted local pipeline forgets the ids.
"""

import time
import zlib
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.shards import check_shards, stateful_shards

DEFAULT_DEDUPE_SHARDS = None  # by runner: transforms/core/shards.py


def shard_of(message_id, shards):
  """The shard (0 .. shards-1) of an id: stable across processes and runs."""
  return zlib.crc32(message_id.encode('utf-8', 'surrogatepass')) % shards


class IdExpiries(beam.CombineFn):
  """{id: expiry (epoch seconds)}; an input is ``(id, expiry)`` or a whole dict."""

  def create_accumulator(self):
    return {}

  def add_input(self, mutable_accumulator, element):
    if isinstance(element, dict):
      mutable_accumulator.update(element)
    else:
      message_id, expiry = element
      mutable_accumulator[message_id] = expiry
    return mutable_accumulator

  def merge_accumulators(self, accumulators):
    merged = {}
    for accumulator in accumulators:
      for message_id, expiry in accumulator.items():
        if expiry > merged.get(message_id, float('-inf')):
          merged[message_id] = expiry
    return merged

  def extract_output(self, accumulator):
    return accumulator


class DedupeShardFn(beam.DoFn):
  """Keeps the first message per id for ``seconds`` of processing time; counts the rest."""
  SEEN = userstate.CombiningValueStateSpec('seen_ids', PickleCoder(), IdExpiries())
  CLEANUP = userstate.TimerSpec('cleanup', TimeDomain.REAL_TIME)

  def __init__(self, seconds, clock=time.time):
    self._seconds = seconds
    self._cleanup_every = max(seconds / 8, 1.0)
    self._clock = clock
    self._duplicates = Metrics.counter('dedup', 'duplicates')
    self._unique = Metrics.counter('dedup', 'unique')

  def process(self, element, seen=beam.DoFn.StateParam(SEEN),
              cleanup=beam.DoFn.TimerParam(CLEANUP)):
    _, (message_id, message) = element
    ids = seen.read()
    now = self._clock()
    expiry = ids.get(message_id)
    if expiry is not None and expiry > now:
      self._duplicates.inc()
      return
    if not ids:  # the shard's first id (or the first since all expired): arm the cleanup
      cleanup.set(Timestamp.now() + self._cleanup_every)
    seen.add((message_id, now + self._seconds))
    self._unique.inc()
    yield message

  @userstate.on_timer(CLEANUP)
  def drop_expired(self, seen=beam.DoFn.StateParam(SEEN),
                   cleanup=beam.DoFn.TimerParam(CLEANUP)):
    now = self._clock()
    kept = {message_id: expiry for message_id, expiry in seen.read().items() if expiry > now}
    seen.clear()
    if kept:
      seen.add(kept)
      cleanup.set(Timestamp.now() + self._cleanup_every)


class _KeyByShard(beam.DoFn):
  def __init__(self, id_attribute, shards):
    self._id_attribute = id_attribute
    self._shards = shards
    self._no_id = Metrics.counter('dedup', 'no_id_attribute')

  def process(self, message):
    value = (message.attributes or {}).get(self._id_attribute)
    if value is None:
      self._no_id.inc()
      yield beam.pvalue.TaggedOutput('no_id', message)
    else:
      yield (shard_of(value, self._shards), (value, message))


class DedupeById(beam.PTransform):
  """Pub/Sub messages -> the same messages, later copies of an id within ``seconds`` of
  processing time removed (see the module docstring)."""

  def __init__(self, id_attribute, seconds, shards=DEFAULT_DEDUPE_SHARDS, label=None):
    """``shards``: how many keys the ids are spread over; None (the default): by runner
    (``beam_pipelines.transforms.core.shards``)."""
    super().__init__(label)
    if not id_attribute:
      raise ValueError('id_attribute must be a non-empty attribute name')
    if not seconds > 0:
      raise ValueError(f'seconds must be positive, got {seconds}')
    self._id_attribute = id_attribute
    self._seconds = seconds
    self._shards = check_shards(shards, 'shards')

  def expand(self, messages):
    shards = stateful_shards(messages.pipeline, self._shards)
    keyed = messages | 'KeyById' >> beam.ParDo(
        _KeyByShard(self._id_attribute, shards)).with_output_types(
            tuple[int, Any]).with_outputs('no_id', main='keyed')
    unique = keyed.keyed | 'DedupeById' >> beam.ParDo(
        DedupeShardFn(self._seconds)).with_input_types(tuple[int, Any])
    return (unique, keyed.no_id) | 'MergeUnique' >> beam.Flatten()
