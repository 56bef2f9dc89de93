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

``batched=TimedBatches(size)``: the messages arrive in timed batches
(``beam_pipelines.transforms.core.batches``); each batch is split by shard, and a shard's
part is checked against the state, and its new ids added, in one call: the same messages pass
and the same counters count as one by one (a test compares both), with one keyed work item
per shard and batch instead of one per message.
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

from beam_pipelines.transforms.core.batches import TimedBatches, timed_batch
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
    # The DirectRunner reads the state as merge([empty, stored]) in every bundle: copying the
    # one non-empty dict whole (C speed) instead of entry by entry took that read from 43 to
    # ~2 ms at 90k ids.
    merged = None
    for accumulator in accumulators:
      if not accumulator:
        continue
      if merged is None:
        merged = dict(accumulator)
        continue
      for message_id, expiry in accumulator.items():
        if expiry > merged.get(message_id, float('-inf')):
          merged[message_id] = expiry
    return {} if merged is None else merged

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


class DedupeShardBatchFn(DedupeShardFn):
  """``DedupeShardFn`` for a shard's part of a timed batch: ``(shard, [(micros, (id,
  message))])`` -> the timed batch of the messages that pass."""

  def process(self, element, seen=beam.DoFn.StateParam(DedupeShardFn.SEEN),
              cleanup=beam.DoFn.TimerParam(DedupeShardFn.CLEANUP)):
    _, batch = element
    ids = seen.read()
    now = self._clock()
    added, kept, duplicates = {}, [], 0
    for micros, (message_id, message) in batch:
      expiry = added.get(message_id) or ids.get(message_id)
      if expiry is not None and expiry > now:
        duplicates += 1
        continue
      added[message_id] = now + self._seconds
      kept.append((micros, message))
    if duplicates:
      self._duplicates.inc(duplicates)
    if added:
      if not ids:  # as one by one: the shard's first ids arm the cleanup
        cleanup.set(Timestamp.now() + self._cleanup_every)
      seen.add(added)
      self._unique.inc(len(added))
    if kept:
      yield timed_batch(kept)


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


class _KeyBatchByShard(_KeyByShard):
  """A timed batch of messages -> one ``(shard, timed batch of (id, message))`` per shard,
  and the messages without the attribute as a timed batch tagged ``no_id``."""

  def process(self, batch):
    parts, no_id = {}, []
    for micros, message in batch:
      value = (message.attributes or {}).get(self._id_attribute)
      if value is None:
        no_id.append((micros, message))
      else:
        parts.setdefault(shard_of(value, self._shards), []).append((micros, (value, message)))
    if no_id:
      self._no_id.inc(len(no_id))
      yield beam.pvalue.TaggedOutput('no_id', timed_batch(no_id))
    for shard, part in parts.items():
      keyed = timed_batch(part)
      yield beam.window.TimestampedValue((shard, keyed.value), keyed.timestamp)


class DedupeById(beam.PTransform):
  """Pub/Sub messages -> the same messages, later copies of an id within ``seconds`` of
  processing time removed (see the module docstring)."""

  def __init__(self, id_attribute, seconds, shards=DEFAULT_DEDUPE_SHARDS, *, batched=False,
               label=None):
    """``shards``: how many keys the ids are spread over; None (the default): by runner
    (``beam_pipelines.transforms.core.shards``). ``batched``: False, or ``TimedBatches``
    when the messages come (and go) in timed batches."""
    super().__init__(label)
    if not id_attribute:
      raise ValueError('id_attribute must be a non-empty attribute name')
    if not seconds > 0:
      raise ValueError(f'seconds must be positive, got {seconds}')
    self._id_attribute = id_attribute
    self._seconds = seconds
    self._shards = check_shards(shards, 'shards')
    if batched and not isinstance(batched, TimedBatches):
      raise ValueError(f'DedupeById: batched must be False or TimedBatches(size), got '
                       f'{batched!r}')
    self._batched = batched

  def expand(self, messages):
    shards = stateful_shards(messages.pipeline, self._shards)
    key_fn, dedupe_fn = ((_KeyBatchByShard, DedupeShardBatchFn) if self._batched
                         else (_KeyByShard, DedupeShardFn))
    keyed = messages | 'KeyById' >> beam.ParDo(
        key_fn(self._id_attribute, shards)).with_output_types(
            tuple[int, Any]).with_outputs('no_id', main='keyed')
    unique = keyed.keyed | 'DedupeById' >> beam.ParDo(
        dedupe_fn(self._seconds)).with_input_types(tuple[int, Any])
    return (unique, keyed.no_id) | 'MergeUnique' >> beam.Flatten()
