"""Patch ``direct_runner_pubsub_pull``: the DirectRunner's Pub/Sub pull rides out a Pub/Sub
that is briefly gone and does not block 30 s when idle.

Beam's ``_PubSubReadEvaluator`` (``apache_beam/runners/direct/transform_evaluator.py``) gets
its client from the ``_get_subscriber_client`` classmethod, pulls (``timeout=30``), then
acknowledges what it pulled at once, before the bundle is even handed on. ``apply()`` wraps
that classmethod once, process-wide, so the client it returns is a ``DirectRunnerPullClient``
with the settings of ``set_direct_runner_pull_timeout`` / ``set_direct_runner_pull_grace``
(``ReadPubSub`` sets them from its ``PubSubSourceConfig``; they matter only while the patch
is on):

* ``pull`` waits at most the configured timeout (an idle 30 s pull stalls the watermark),
  and takes up to ``PULL_MAX_MESSAGES`` (1000) messages, not Beam's 10: each pull sets the
  watermark to the wall clock, so a backlog drained 10 at a time across a window's end was
  late (dropped by windows without allowed lateness).
* A pull that fails with NotFound (the subscription or topic is gone: a restarted emulator
  that forgot it, a subscription being re-created) or a transport error that outlived the
  client library's own retries (it retries UNAVAILABLE for 60 s per pull, which is why a
  short connection outage never reached Beam) returns an empty result after a back-off,
  logs a warning and counts ``pubsub/pull_errors``, for up to the grace period. The first
  failed pull after it raises ``PubSubReadError`` naming the subscription and how long it
  has failed, and so does every later pull: the run fails loudly, it never waits forever on
  a deleted subscription. A successful pull ends the episode (and logs that it did).
* Errors before the first successful pull are not tolerated (Beam's behaviour: a typo in a
  subscription name fails the run at once, not after the grace period).
* ``acknowledge`` never raises: a failed ack (the old ack ids of a restarted service, Pub/Sub
  unreachable) means the messages will be redelivered, which the id attribute de-duplicates;
  it logs a warning and counts ``pubsub/ack_failed`` (messages). The messages themselves are
  still emitted, so nothing is lost; without this an ack error failed the bundle and the run.

Other runners never use this evaluator: on Dataflow the native Pub/Sub source reads.
"""

import logging
import threading
import time
import weakref

from apache_beam.metrics import Metrics

_LOG = logging.getLogger(__name__)
DEFAULT_PULL_GRACE_SECONDS = 90.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.25, 2.0  # short: the sleep holds the runner's executor
_WARN_EVERY = 10.0  # seconds between "still failing" warnings of one episode
# Messages per pull (Beam asks for 10). Every pull moves the source's watermark to the wall
# clock, so a backlog drained 10 at a time across a window's end arrives late: a burst of
# 200 lost most of its messages to the quality windows. One pull takes a burst whole.
PULL_MAX_MESSAGES = 1000


class PubSubReadError(RuntimeError):
  """Pulls from a subscription kept failing for longer than the grace period."""


def _tolerated(error):
  """True for errors a Pub/Sub restart or a re-created subscription produces."""
  from google.api_core import exceptions as gexc
  return isinstance(error, (gexc.NotFound, gexc.ServiceUnavailable, gexc.DeadlineExceeded,
                            gexc.Aborted, gexc.InternalServerError, gexc.Unknown,
                            gexc.Cancelled, gexc.RetryError))


def _empty_pull_response():
  from google.cloud.pubsub_v1 import types
  return types.PullResponse()


class DirectRunnerPullClient:
  """Wraps a SubscriberClient: clamped pull timeout, a grace period for failing pulls, acks
  that never raise (see the module docstring). ``clock``/``sleep`` are for tests."""

  def __init__(self, client, timeout=None, grace=DEFAULT_PULL_GRACE_SECONDS, source=None,
               clock=time.monotonic, sleep=time.sleep):
    self._client = client
    self.timeout = timeout
    self.grace = grace
    self._source = source  # e.g. "temporary subscription of topic T", for error messages
    self._clock, self._sleep = clock, sleep
    self._lock = threading.Lock()
    self._pulled_once = False
    self._failing_since = None
    self._failures = 0
    self._warned_at = None
    self._fatal = None
    self._pull_errors = Metrics.counter('pubsub', 'pull_errors')
    self._ack_failed = Metrics.counter('pubsub', 'ack_failed')

  def pull(self, *args, **kwargs):
    if self._fatal is not None:  # past the grace period: Beam retries the bundle, fail fast
      message, cause = self._fatal
      raise PubSubReadError(message) from cause
    if self.timeout is not None:
      kwargs['timeout'] = min(kwargs.get('timeout') or self.timeout, self.timeout)
    kwargs['max_messages'] = max(kwargs.get('max_messages') or 0, PULL_MAX_MESSAGES)
    started = self._clock()
    try:
      response = self._client.pull(*args, **kwargs)
    except Exception as e:  # pylint: disable=broad-except
      if not (_tolerated(e) and self._pulled_once):
        raise
      self._sleep(self._failed(kwargs.get('subscription'), e, started))
      return _empty_pull_response()
    self._succeeded(kwargs.get('subscription'))
    return response

  def _name(self, subscription):
    name = subscription or 'the Pub/Sub subscription'
    return f'{name} ({self._source})' if self._source else name

  def _failed(self, subscription, error, started):
    """Records a failed pull; returns the back-off in seconds, or raises past the grace."""
    with self._lock:
      now = self._clock()
      if self._failing_since is None:
        self._failing_since, self._failures, self._warned_at = started, 0, None
      self._failures += 1
      self._pull_errors.inc()
      failing_for = now - self._failing_since
      reason = f'{type(error).__name__}: {error}'
      if failing_for > self.grace:
        message = (
            f'Pub/Sub read of {self._name(subscription)} failed: every pull for '
            f'{failing_for:.0f} s ({self._failures} pulls) failed, longer than the grace '
            f'period of {self.grace:g} s (--pubsub_pull_grace). Last error: {reason}. If the '
            'subscription was deleted, re-create it (and re-publish what it lost) and '
            'restart the pipeline.')
        self._fatal = (message, error)
        raise PubSubReadError(message) from error
      if self._warned_at is None or now - self._warned_at >= _WARN_EVERY:
        self._warned_at = now
        _LOG.warning('Pub/Sub pull from %s failed for %.0f s (%d pulls; %s); retrying for up '
                     'to %g s before failing the run', self._name(subscription), failing_for,
                     self._failures, reason, self.grace)
      return min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (self._failures - 1))

  def _succeeded(self, subscription):
    with self._lock:
      self._pulled_once = True
      if self._failing_since is not None:
        _LOG.warning('Pub/Sub pull from %s works again after %.0f s (%d failed pulls)',
                     self._name(subscription), self._clock() - self._failing_since,
                     self._failures)
        self._failing_since, self._failures = None, 0

  def acknowledge(self, *args, **kwargs):
    from google.api_core.exceptions import GoogleAPIError
    try:
      return self._client.acknowledge(*args, **kwargs)
    except GoogleAPIError as e:
      count = len(kwargs.get('ack_ids') or [])
      self._ack_failed.inc(count)
      _LOG.warning('could not acknowledge %d Pub/Sub message(s) of %s (%s: %s); they will be '
                   'redelivered after their ack deadline and removed as duplicates by the id '
                   'attribute', count, self._name(kwargs.get('subscription')),
                   type(e).__name__, e)
      return None

  def __getattr__(self, name):
    return getattr(self._client, name)


# --- the process-wide patch of Beam's evaluator ------------------------------------------

_LOCK = threading.Lock()
_settings = {'timeout': None, 'grace': DEFAULT_PULL_GRACE_SECONDS}
# One wrapper per read transform, so the failure episode survives across pulls (Beam asks
# for the client on every pull); weak keys as in Beam's own client cache.
_wrappers: 'weakref.WeakKeyDictionary[object, DirectRunnerPullClient]' = weakref.WeakKeyDictionary()


def _describe_source(applied_transform):
  """'temporary subscription of topic T' for a topic read (the subscription name is Beam's
  random one and is not re-created after a restart), else None."""
  source = getattr(getattr(applied_transform, 'transform', None), '_source', None)
  topic = getattr(source, 'full_topic', None)
  if topic and not getattr(source, 'full_subscription', None):
    return f'temporary subscription of topic {topic}'
  return None


def apply():
  """Wraps ``_PubSubReadEvaluator._get_subscriber_client`` once (idempotent)."""
  with _LOCK:
    _install()


def _install():
  from apache_beam.runners.direct import transform_evaluator as te
  evaluator = te._PubSubReadEvaluator  # pylint: disable=protected-access
  if getattr(evaluator, '_beam_pipelines_wrapped', False):
    return
  original = evaluator.__dict__['_get_subscriber_client'].__func__

  def _get_subscriber_client(cls, transform):
    client = original(cls, transform)
    with _LOCK:
      wrapper = _wrappers.get(transform)
      if wrapper is None or wrapper._client is not client:  # pylint: disable=protected-access
        wrapper = DirectRunnerPullClient(client, source=_describe_source(transform))
        _wrappers[transform] = wrapper
      wrapper.timeout, wrapper.grace = _settings['timeout'], _settings['grace']
    return wrapper

  evaluator._get_subscriber_client = classmethod(_get_subscriber_client)
  evaluator._beam_pipelines_wrapped = True


def settings():
  """The current pull settings: ``{'timeout': seconds or None, 'grace': seconds}``."""
  with _LOCK:
    return dict(_settings)


def _set(key, value):
  with _LOCK:
    previous, _settings[key] = _settings[key], value
  return previous


def set_direct_runner_pull_timeout(seconds):
  """Makes the DirectRunner's Pub/Sub read wait at most ``seconds`` per idle pull
  (``None``: Beam's 30 s) while the patch is on. Process-wide, no effect on other runners.
  Returns the previous setting."""
  return _set('timeout', seconds)


def set_direct_runner_pull_grace(seconds):
  """How long the DirectRunner's Pub/Sub pulls may keep failing (NotFound, unreachable)
  before the read fails the run. Process-wide; returns the previous setting."""
  if seconds is None or seconds <= 0:
    raise ValueError(f'grace must be a positive number of seconds, got {seconds!r}')
  return _set('grace', seconds)
