"""PublishToPubSub: publish ``(data, attributes)`` pairs to a topic, batch or streaming.

Beam's ``WriteToPubSub`` is built for streaming pipelines; dead letters and replays are often
batch. This DoFn publishes with the google-cloud-pubsub client (which honours
``PUBSUB_EMULATOR_HOST``) and waits for every publish of a bundle before the bundle commits,
so a publish failure fails the bundle (and is retried by the runner) instead of being lost.
"""

import logging
import re

import apache_beam as beam
from apache_beam.metrics import Metrics

_LOG = logging.getLogger(__name__)
_TOPIC = re.compile(r'^projects/[^/]+/topics/[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$')
# Pub/Sub limits: 10 MB per message; attribute keys 256 bytes, values 1024 bytes.
MAX_ATTRIBUTE_VALUE_BYTES = 1024


def check_topic(topic, argument='topic'):
  """Raises ValueError unless ``topic`` is ``projects/P/topics/T``."""
  if not isinstance(topic, str) or not _TOPIC.match(topic):
    raise ValueError(f'{argument} must be projects/PROJECT/topics/TOPIC (topic id of 3 to '
                     f'255 characters starting with a letter), got {topic!r}')
  return topic


def clean_attributes(attributes):
  """Pub/Sub attributes: str -> str, no None values, values cut to the 1024-byte limit."""
  out = {}
  for key, value in (attributes or {}).items():
    if key is None or value is None or key == '':
      continue
    text = str(value)
    encoded = text.encode('utf-8')
    if len(encoded) > MAX_ATTRIBUTE_VALUE_BYTES:
      _LOG.warning('attribute %r cut from %d to %d bytes (Pub/Sub limit)', key, len(encoded),
                   MAX_ATTRIBUTE_VALUE_BYTES)
      text = encoded[:MAX_ATTRIBUTE_VALUE_BYTES].decode('utf-8', errors='ignore')
    out[str(key)] = text
  return out


class _PublishFn(beam.DoFn):
  def __init__(self, topic, metric_namespace):
    self._topic = topic
    self._published = Metrics.counter(metric_namespace, 'published')
    self._publisher = None
    self._futures = []

  def setup(self):
    from google.cloud import pubsub_v1
    self._publisher = pubsub_v1.PublisherClient()

  def start_bundle(self):
    self._futures = []

  def process(self, element):
    data, attributes = element
    self._futures.append(self._publisher.publish(self._topic, bytes(data),
                                                 **clean_attributes(attributes)))
    if len(self._futures) >= 1000:
      self._wait()

  def finish_bundle(self):
    self._wait()

  def _wait(self):
    futures, self._futures = self._futures, []
    for future in futures:
      future.result(timeout=120)  # raises: the bundle fails and is retried
      self._published.inc()

  def teardown(self):
    if self._publisher is not None:
      try:
        self._publisher.stop()
      except Exception:  # pylint: disable=broad-except
        pass


class PublishToPubSub(beam.PTransform):
  """Publishes ``(data: bytes, attributes: dict)`` elements to ``topic``.

  Counter ``<metric_namespace>/published``. Example::

      pairs | PublishToPubSub('projects/p/topics/events')
  """

  def __init__(self, topic, metric_namespace='pubsub', label=None):
    super().__init__(label)
    self._topic = check_topic(topic)
    self._namespace = metric_namespace

  def expand(self, pairs):
    return pairs | 'Publish' >> beam.ParDo(_PublishFn(self._topic, self._namespace))
