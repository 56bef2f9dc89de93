"""ReadPubSub: Pub/Sub messages become RawMessages (the streaming half of ReadEvents).

Every message becomes one ``RawMessage``: its data as payload, its attributes kept, its
Pub/Sub message id as ``source_id``, its publish time as ``ingest_time`` and, when
``timestamp_attribute`` is set, the event time read from that attribute (RFC 3339 or
milliseconds since the epoch, as Beam and Dataflow accept). The element's Beam timestamp is
the event time when known, else the publish time.

Two features behave differently per runner, and ``ReadPubSub`` picks at construction:

* De-duplication by ``id_attribute``. On Dataflow, Beam's native ``id_label`` is used
  (Dataflow de-duplicates messages with the same attribute value published within about
  10 minutes). Every other runner raises ``NotImplementedError`` for ``id_label`` (the
  Python DirectRunner does), so there the pipeline de-duplicates itself with a stateful
  DoFn keyed by the attribute value: the first message with a value passes, later ones
  within ``dedupe_seconds`` of processing time are counted (``dedup/duplicates``) and
  removed on purpose. Messages without the attribute pass (``dedup/no_id_attribute``).
  ``dedupe='pipeline'`` forces the in-pipeline step on Dataflow too.
* ``timestamp_attribute``. On Dataflow it is given to ``ReadFromPubSub`` natively, so the
  watermark follows event time. Elsewhere the message is read with its publish time and the
  attribute is parsed by our DoFn: a malformed value becomes a dead letter (stage ``read``,
  errorType ``invalid_timestamp_attribute``) instead of failing the whole pipeline, which is
  what Beam's DirectRunner read does. A message without the attribute keeps its publish time.

The Python DirectRunner pulls with a hard-coded 30 s timeout
(``apache_beam/runners/direct/transform_evaluator.py``, ``_PubSubReadEvaluator``), so an idle
subscription holds the wall-clock watermark (and everything downstream of a window) for up to
30 s. Beam's read also fails the run on the first pull that gets NotFound (a restarted
emulator, a re-created subscription) and on any ack error. With the Beam patch
``direct_runner_pubsub_pull`` on (``beam_pipelines.transforms.beam_patches``; the pipelines switch it on),
``direct_runner_pull_timeout`` shortens an idle pull, pulls may fail for
``direct_runner_pull_grace`` seconds before the run fails, and a failed ack is counted
instead. Without the patch both settings are ignored; neither has any effect on another
runner.
"""

import logging
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.beam_patches.direct_runner_pubsub_pull import (DEFAULT_PULL_GRACE_SECONDS,
                                                               set_direct_runner_pull_grace,
                                                               set_direct_runner_pull_timeout)
from beam_pipelines.transforms.core.batches import BatchBundles, TimedBatches, batched_or_not
from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, ROWS_TAG, FallibleResult, make_dead_letter
from beam_pipelines.transforms.core.lineage import report_pubsub_source
from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.core.shards import check_shards
from beam_pipelines.transforms.read.pubsub_dedupe import DedupeById

_LOG = logging.getLogger(__name__)
DEDUPE_MODES = ('auto', 'native', 'pipeline', 'off')
_SUBSCRIPTION_PREFIX = 'projects/'
DEFAULT_DEDUPE_SECONDS = 600.0


@dataclass(frozen=True)
class PubSubSourceConfig:
  """A Pub/Sub input.

  Attributes:
    subscription: ``projects/P/subscriptions/S`` (exactly one of subscription and topic).
    topic: ``projects/P/topics/T``; a temporary subscription is created for the run.
    id_attribute: attribute whose value identifies a message for de-duplication.
    timestamp_attribute: attribute holding the event time (RFC 3339 or epoch millis).
    dedupe: ``auto`` (native on Dataflow, in-pipeline elsewhere), ``native``, ``pipeline``,
      or ``off``. Ignored without ``id_attribute``.
    dedupe_seconds: how long (processing time) an id is remembered by the in-pipeline step.
    direct_runner_pull_timeout: seconds an idle pull waits on the DirectRunner (Beam: 30).
    direct_runner_pull_grace: seconds the DirectRunner's pulls may keep failing (subscription
      not found, Pub/Sub unreachable) before the read fails the run.
    dedupe_shards: how many keys the in-pipeline step spreads the ids over; None (the
      default): by runner, 2 on the DirectRunner, 16 elsewhere
      (``beam_pipelines.transforms.core.shards``).
    ordering_key_attribute: when set, a message's ordering key (e.g. the record key Debezium
      Server publishes with) is kept as this attribute, unless the message already has an
      attribute of that name.
  """
  subscription: str | None = None
  topic: str | None = None
  id_attribute: str | None = None
  timestamp_attribute: str | None = None
  dedupe: str = 'auto'
  dedupe_seconds: float = DEFAULT_DEDUPE_SECONDS
  dedupe_shards: int | None = None
  direct_runner_pull_timeout: float | None = None
  direct_runner_pull_grace: float = DEFAULT_PULL_GRACE_SECONDS
  ordering_key_attribute: str | None = None

  def __post_init__(self):
    if bool(self.subscription) == bool(self.topic):
      raise ValueError('exactly one of subscription and topic must be given')
    if self.subscription and not (self.subscription.startswith(_SUBSCRIPTION_PREFIX)
                                  and '/subscriptions/' in self.subscription):
      raise ValueError(f'subscription must look like projects/P/subscriptions/S, '
                       f'got {self.subscription!r}')
    if self.topic and not (self.topic.startswith(_SUBSCRIPTION_PREFIX)
                           and '/topics/' in self.topic):
      raise ValueError(f'topic must look like projects/P/topics/T, got {self.topic!r}')
    if self.dedupe not in DEDUPE_MODES:
      raise ValueError(f'dedupe must be one of {DEDUPE_MODES}, got {self.dedupe!r}')
    if self.dedupe_seconds <= 0:
      raise ValueError(f'dedupe_seconds must be positive, got {self.dedupe_seconds}')
    check_shards(self.dedupe_shards, 'dedupe_shards')
    if self.direct_runner_pull_timeout is not None and not (
        0 < self.direct_runner_pull_timeout <= 30):
      raise ValueError('direct_runner_pull_timeout must be in (0, 30] seconds, got '
                       f'{self.direct_runner_pull_timeout}')
    if not self.direct_runner_pull_grace > 0:
      raise ValueError('direct_runner_pull_grace must be a positive number of seconds, got '
                       f'{self.direct_runner_pull_grace}')
    for name in ('id_attribute', 'timestamp_attribute', 'ordering_key_attribute'):
      value = getattr(self, name)
      if value is not None and not value:
        raise ValueError(f'{name} must be a non-empty attribute name')


# --- reading -------------------------------------------------------------------------------

def parse_timestamp_attribute(text):
  """Epoch millis or RFC 3339 -> seconds since the epoch (float); ValueError otherwise."""
  text = str(text).strip()
  try:
    return int(text) / 1000.0
  except ValueError:
    pass
  try:
    return float(Timestamp.from_rfc3339(text).micros) / 1e6
  except Exception:  # pylint: disable=broad-except
    raise ValueError(f'{text[:60]!r} is neither RFC 3339 nor milliseconds since the epoch'
                     ) from None


class ToRawMessageFn(beam.DoFn):
  """PubsubMessage -> RawMessage, stamped with the event time from the attribute. With
  ``source`` (the subscription or topic path) it reports it as a Beam lineage source once
  per bundle: the DirectRunner's own Pub/Sub read does not (Beam's does on Dataflow)."""

  def __init__(self, timestamp_attribute, parse_attribute, source=None,
               ordering_key_attribute=None):
    self._timestamp_attribute = timestamp_attribute
    self._parse_attribute = parse_attribute
    self._source = source
    self._reported = source is None
    self._ordering_key_attribute = ordering_key_attribute
    self._records = Metrics.counter('read', 'records')
    self._bad_timestamps = Metrics.counter('read', 'invalid_timestamp_attribute')

  def start_bundle(self):
    self._reported = self._source is None

  def process(self, message, timestamp=beam.DoFn.TimestampParam):
    if not self._reported:
      report_pubsub_source(self._source)
      self._reported = True
    attributes = dict(message.attributes or {})
    ordering_key = getattr(message, 'ordering_key', None)
    if self._ordering_key_attribute and ordering_key:
      attributes.setdefault(self._ordering_key_attribute, ordering_key)
    publish_time = (message.publish_time.timestamp() if message.publish_time is not None
                    else float(timestamp.micros) / 1e6)
    source_id = message.message_id or f'publish:{publish_time}'
    self._records.inc()
    event_time = None
    if self._timestamp_attribute:
      if self._timestamp_attribute in attributes:
        try:
          event_time = parse_timestamp_attribute(attributes[self._timestamp_attribute])
        except ValueError as e:
          self._bad_timestamps.inc()
          yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
              message.data or b'', stage='read', error_type='invalid_timestamp_attribute',
              message=f'attribute {self._timestamp_attribute}: {e}', source_id=source_id,
              attributes=attributes))
          return
      elif not self._parse_attribute:
        event_time = float(timestamp.micros) / 1e6
    raw = RawMessage(message.data or b'', attributes, source_id, publish_time, event_time)
    if self._parse_attribute and event_time is not None:
      yield beam.window.TimestampedValue(raw, event_time)
    else:
      yield raw


def runner_name(pipeline):
  """The runner's class name (``DataflowRunner``, ``BundleBasedDirectRunner``...)."""
  runner = getattr(pipeline, 'runner', None)
  return type(runner).__name__ if runner is not None else ''


def is_dataflow(pipeline):
  return 'Dataflow' in runner_name(pipeline)


class ReadPubSub(beam.PTransform):
  """Reads Pub/Sub into RawMessages. Use through ``ReadEvents(PubSubSourceConfig(...))``.

  Outputs a ``FallibleResult``: ``rows`` are RawMessages (duplicates by ``id_attribute``
  removed, see the module docstring for what each runner guarantees), ``dead_letters`` are
  messages whose timestamp attribute cannot be read (stage ``read``).

  Example::

      read = p | ReadEvents(PubSubSourceConfig(
          subscription='projects/p/subscriptions/events', id_attribute='event_id',
          timestamp_attribute='ts'))
  """

  def __init__(self, config, label=None, *, batched=False):
    """``batched``: False, or ``TimedBatches(size)``: ``rows`` are timed batches of
    RawMessages, each with its own timestamp (``beam_pipelines.transforms.core.batches``),
    formed from the messages of one bundle (one pull on the DirectRunner) right after the
    read, so the de-duplication and every later row-by-row step run once per batch."""
    super().__init__(label)
    if not isinstance(config, PubSubSourceConfig):
      raise ValueError(f'config must be a PubSubSourceConfig, got {type(config).__name__}')
    if batched and not isinstance(batched, TimedBatches):
      raise ValueError('ReadPubSub: messages have a timestamp each, so their batches are '
                       f'timed: batched must be False or TimedBatches(size), got {batched!r}')
    self._config = config
    self._batched = batched

  def expand(self, pbegin):
    config = self._config
    dataflow = is_dataflow(pbegin.pipeline)
    native_dedupe = bool(config.id_attribute) and (
        config.dedupe == 'native' or (config.dedupe == 'auto' and dataflow))
    pipeline_dedupe = bool(config.id_attribute) and (
        config.dedupe == 'pipeline' or (config.dedupe == 'auto' and not dataflow))
    native_timestamp = bool(config.timestamp_attribute) and dataflow
    if not dataflow:  # settings of the DirectRunner pull patch (used only while it is on)
      if config.direct_runner_pull_timeout is not None:
        set_direct_runner_pull_timeout(config.direct_runner_pull_timeout)
      set_direct_runner_pull_grace(config.direct_runner_pull_grace)
    messages = pbegin | 'ReadFromPubSub' >> beam.io.ReadFromPubSub(
        topic=config.topic, subscription=config.subscription, with_attributes=True,
        id_label=config.id_attribute if native_dedupe else None,
        timestamp_attribute=config.timestamp_attribute if native_timestamp else None)
    if self._batched:
      messages = messages | 'BatchMessages' >> beam.ParDo(BatchBundles(self._batched.size))
    if pipeline_dedupe:
      messages = messages | 'DedupeById' >> DedupeById(config.id_attribute,
                                                       config.dedupe_seconds,
                                                       config.dedupe_shards,
                                                       batched=self._batched)
    outputs = messages | 'ToRawMessage' >> beam.ParDo(batched_or_not(ToRawMessageFn(
        config.timestamp_attribute, parse_attribute=not native_timestamp,
        source=config.subscription or config.topic,
        ordering_key_attribute=config.ordering_key_attribute), self._batched)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])
