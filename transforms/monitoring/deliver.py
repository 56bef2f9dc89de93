"""DeliverAlerts: alerts to a Pub/Sub topic and/or an HTTP webhook, retried, never fatal.

Each alert is sent on its own: a Pub/Sub message (the alert as JSON; attributes ``rule``,
``severity``, ``pipeline``, ``alert_id``) and/or an HTTP ``POST`` of the alert as JSON (plus
a ``text`` line, which chat webhooks such as Slack's display). A failed send is retried with
exponential backoff (``attempts``, ``backoff_seconds``, at most 30 s between tries); an alert
that still fails is logged and counted, and the pipeline goes on: an unreachable pager must
not stop the data. Counters ``alerts/<channel>_delivered``, ``<channel>_retries``,
``<channel>_failed`` (channel ``pubsub`` or ``webhook``). Output: one record per alert that
could not be delivered (``alert_id``, ``channel``, ``error``).
"""

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.write.pubsub import check_topic, clean_attributes

_LOG = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class AlertDeliveryConfig:
  """Where alerts go besides the alerts table, and how hard to try."""
  topic: Optional[str] = None
  webhook: Optional[str] = None
  attempts: int = 5
  backoff_seconds: float = 1.0
  timeout_seconds: float = 10.0

  def __post_init__(self):
    if self.topic is not None:
      check_topic(self.topic, 'topic')
    if self.webhook is not None:
      parts = urllib.parse.urlsplit(self.webhook)
      if parts.scheme not in ('http', 'https') or not parts.netloc:
        raise ValueError(f'webhook must be an http(s) URL, got {self.webhook!r}')
    if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or (
        self.attempts < 1):
      raise ValueError(f'attempts must be a whole number >= 1, got {self.attempts!r}')
    if not self.backoff_seconds >= 0:
      raise ValueError(f'backoff_seconds must be >= 0, got {self.backoff_seconds!r}')
    if not self.timeout_seconds > 0:
      raise ValueError(f'timeout_seconds must be > 0, got {self.timeout_seconds!r}')

  @property
  def enabled(self):
    return self.topic is not None or self.webhook is not None


class PermanentDeliveryError(Exception):
  """A send that retrying cannot fix (e.g. HTTP 400 or 404)."""


class _PubSubChannel:
  name = 'pubsub'

  def __init__(self, topic, timeout):
    self._topic, self._timeout = topic, timeout
    self._publisher = None

  def open(self):
    from google.cloud import pubsub_v1
    self._publisher = pubsub_v1.PublisherClient()

  def send(self, alert):
    data = json.dumps(alert, sort_keys=True).encode('utf-8')
    attributes = clean_attributes({k: alert.get(k) for k in
                                   ('rule', 'severity', 'pipeline', 'alert_id')})
    self._publisher.publish(self._topic, data, **attributes).result(timeout=self._timeout)

  def close(self):
    if self._publisher is not None:
      try:
        self._publisher.stop()
      except Exception:  # pylint: disable=broad-except
        pass


class _WebhookChannel:
  name = 'webhook'

  def __init__(self, url, timeout):
    self._url, self._timeout = url, timeout

  def open(self):
    pass

  def send(self, alert):
    body = dict(alert, text=f'[{alert["severity"]}] {alert["pipeline"]}: {alert["message"]}')
    request = urllib.request.Request(
        self._url, data=json.dumps(body, sort_keys=True).encode('utf-8'), method='POST',
        headers={'Content-Type': 'application/json'})
    try:
      with urllib.request.urlopen(request, timeout=self._timeout) as response:
        response.read()
    except urllib.error.HTTPError as e:
      if 400 <= e.code < 500 and e.code not in (408, 425, 429):
        raise PermanentDeliveryError(f'HTTP {e.code} {e.reason}') from None
      raise

  def close(self):
    pass


class _DeliverFn(beam.DoFn):
  def __init__(self, channel, attempts, backoff_seconds, sleep=time.sleep):
    self._channel = channel
    self._attempts = attempts
    self._backoff = backoff_seconds
    self._sleep = sleep

  def setup(self):
    name = self._channel.name
    self._delivered = Metrics.counter('alerts', f'{name}_delivered')
    self._retries = Metrics.counter('alerts', f'{name}_retries')
    self._failed = Metrics.counter('alerts', f'{name}_failed')
    self._channel.open()

  def process(self, alert):
    error = None
    for attempt in range(self._attempts):
      if attempt:
        self._retries.inc()
        self._sleep(min(self._backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
      try:
        self._channel.send(alert)
        self._delivered.inc()
        return
      except PermanentDeliveryError as e:
        error = e
        break
      except Exception as e:  # pylint: disable=broad-except
        error = e
    self._failed.inc()
    message = f'{type(error).__name__}: {error}'
    _LOG.warning('alert %s not delivered by %s after %d attempt(s): %s', alert.get('alert_id'),
                 self._channel.name, attempt + 1, message)
    yield {'alert_id': alert.get('alert_id'), 'channel': self._channel.name, 'error': message}

  def teardown(self):
    self._channel.close()


class DeliverAlerts(beam.PTransform):
  """Sends alert records to the configured Pub/Sub topic and/or webhook (module docstring).

  Returns the records of alerts a channel could not deliver (never raises for them).
  Example::

      alerts | DeliverAlerts(AlertDeliveryConfig(webhook='https://hooks.example/alerts'))
  """

  def __init__(self, config, *, label=None, sleep=time.sleep):
    super().__init__(label)
    if not isinstance(config, AlertDeliveryConfig):
      raise ValueError(f'config must be an AlertDeliveryConfig, got {type(config).__name__}')
    if not config.enabled:
      raise ValueError('config: give a topic, a webhook or both')
    self._config = config
    self._sleep = sleep

  def expand(self, alerts):
    config = self._config
    failed = []
    if config.topic is not None:
      failed.append(alerts | 'PublishAlerts' >> beam.ParDo(_DeliverFn(
          _PubSubChannel(config.topic, config.timeout_seconds), config.attempts,
          config.backoff_seconds, self._sleep)))
    if config.webhook is not None:
      failed.append(alerts | 'PostAlerts' >> beam.ParDo(_DeliverFn(
          _WebhookChannel(config.webhook, config.timeout_seconds), config.attempts,
          config.backoff_seconds, self._sleep)))
    return tuple(failed) | 'UndeliveredAlerts' >> beam.Flatten()
