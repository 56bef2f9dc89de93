"""The DirectRunner pull wrapper: clamped timeout, a grace period for failing pulls (empty
result + ``pubsub/pull_errors`` inside it, a loud error past it), acks that never raise."""

import contextlib

import pytest
from apache_beam.metrics.execution import MetricsContainer
from apache_beam.runners.worker import statesampler
from apache_beam.utils import counters
from google.api_core import exceptions as gexc

from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.beam_patches.direct_runner_pubsub_pull import (DirectRunnerPullClient,
                                                               PubSubReadError,
                                                               set_direct_runner_pull_grace,
                                                               set_direct_runner_pull_timeout)

SUB = 'projects/p/subscriptions/events'


class FakeClock:
  def __init__(self):
    self.now = 1000.0
    self.sleeps = []

  def __call__(self):
    return self.now

  def sleep(self, seconds):
    self.sleeps.append(seconds)
    self.now += seconds


class FakeSubscriber:
  """Answers each pull with the next scripted outcome: an exception to raise, or a response.
  ``advance`` seconds pass on the clock during every pull (a pull takes time)."""

  def __init__(self, clock, outcomes, advance=0.0):
    self.clock, self.outcomes, self.advance = clock, list(outcomes), advance
    self.pulls = []

  def pull(self, **kwargs):
    self.pulls.append(kwargs)
    self.clock.now += self.advance
    outcome = self.outcomes.pop(0)
    if isinstance(outcome, Exception):
      raise outcome
    return outcome

  def acknowledge(self, **kwargs):
    raise gexc.NotFound('Subscription does not exist')


@contextlib.contextmanager
def counted():
  """Runs the block as a runner runs a bundle (a metrics container in scope); yields a
  function returning the ``pubsub`` counters so far."""
  container = MetricsContainer('ReadFromPubSub')
  sampler = statesampler.StateSampler('', counters.CounterFactory())
  previous = statesampler.get_current_tracker()
  statesampler.set_current_tracker(sampler)
  try:
    with sampler.scoped_state('ReadFromPubSub', 'finish', metrics_container=container):
      yield lambda: {key.metric.name: value
                     for key, value in container.get_cumulative().counters.items()
                     if key.metric.namespace == 'pubsub'}
  finally:
    statesampler.set_current_tracker(previous)


def client_for(outcomes, grace=60.0, advance=0.0):
  clock = FakeClock()
  fake = FakeSubscriber(clock, outcomes, advance)
  return DirectRunnerPullClient(fake, timeout=0.5, grace=grace, clock=clock,
                                sleep=clock.sleep), fake, clock


def pull(client):
  return client.pull(subscription=SUB, max_messages=10, timeout=30)


def test_pull_timeout_is_clamped_and_a_pull_takes_a_backlog_whole():
  """Beam asks for 10 messages a pull and moves the watermark to the wall clock after each:
  a burst drained 10 at a time crossed window ends and was late. A pull asks for 1000."""
  client, fake, _ = client_for(['response'])
  assert pull(client) == 'response'
  assert fake.pulls == [{'subscription': SUB, 'max_messages': 1000, 'timeout': 0.5}]
  unclamped = DirectRunnerPullClient(FakeSubscriber(FakeClock(), ['r']), timeout=None)
  assert unclamped.pull(subscription=SUB, timeout=30) == 'r'
  assert unclamped._client.pulls == [{'subscription': SUB, 'timeout': 30, 'max_messages': 1000}]


def test_not_found_within_grace_is_an_empty_pull_counted_and_backed_off():
  gone = gexc.NotFound('Subscription does not exist')
  client, fake, clock = client_for(['ok', gone, gone, gone, 'ok'])
  with counted() as pubsub_counters:
    assert pull(client) == 'ok'
    for _ in range(3):
      assert list(pull(client).received_messages) == []
    assert pull(client) == 'ok'  # the subscription is back
    assert pubsub_counters() == {'pull_errors': 3}
  assert clock.sleeps == [0.25, 0.5, 1.0]  # exponential back-off between failed pulls
  assert len(fake.pulls) == 5


def test_past_grace_fails_loudly_naming_subscription_and_duration():
  unavailable = gexc.RetryError('Timeout of 60.0s exceeded', gexc.ServiceUnavailable('down'))
  # Each pull takes 30 s (the client library's own retries of UNAVAILABLE), grace 65 s.
  client, fake, _ = client_for(['ok'] + [unavailable] * 4, grace=65, advance=30)
  with counted() as pubsub_counters:
    pull(client)
    assert list(pull(client).received_messages) == []  # failing for 30 s
    assert list(pull(client).received_messages) == []  # 60.25 s (with the back-off)
    with pytest.raises(PubSubReadError) as failure:
      pull(client)
    assert pubsub_counters() == {'pull_errors': 3}
  message = str(failure.value)
  assert SUB in message and 'every pull for 91 s (3 pulls) failed' in message
  assert 'grace period of 65 s' in message and 'RetryError' in message
  # Beam retries a failed bundle: the read fails again at once, without pulling.
  pulls = len(fake.pulls)
  with pytest.raises(PubSubReadError):
    pull(client)
  assert len(fake.pulls) == pulls


def test_a_successful_pull_ends_the_episode():
  gone = gexc.NotFound('Subscription does not exist')
  client, _, _ = client_for(['ok', gone, 'ok', gone, 'ok'], grace=60, advance=40)
  with counted() as pubsub_counters:
    for _ in range(5):  # 40 s of failure, success, 40 s again: never 60 s in a row
      pull(client)
    assert pubsub_counters() == {'pull_errors': 2}


def test_errors_before_the_first_successful_pull_are_not_tolerated():
  # A typo in a subscription name fails the run at once (Beam's behaviour), not after 90 s.
  client, _, _ = client_for([gexc.NotFound('Subscription does not exist')])
  with pytest.raises(gexc.NotFound):
    pull(client)


def test_other_errors_are_raised():
  client, _, _ = client_for(['ok', gexc.PermissionDenied('no')])
  pull(client)
  with pytest.raises(gexc.PermissionDenied):
    pull(client)


def test_a_failed_ack_is_counted_not_raised():
  client, _, _ = client_for([])
  with counted() as pubsub_counters:
    assert client.acknowledge(subscription=SUB, ack_ids=['a', 'b', 'c']) is None
    assert pubsub_counters() == {'ack_failed': 3}


def test_the_evaluator_gets_one_wrapper_per_read(monkeypatch):
  monkeypatch.setenv('PUBSUB_EMULATOR_HOST', '127.0.0.1:9')  # a client, never connected
  from apache_beam.runners.direct.transform_evaluator import _PubSubReadEvaluator
  beam_patches.enable('direct_runner_pubsub_pull')
  previous = set_direct_runner_pull_timeout(2), set_direct_runner_pull_grace(30)
  try:
    class Transform:  # Beam caches clients per (weakly referenced) applied transform
      pass
    transform = Transform()
    first = _PubSubReadEvaluator._get_subscriber_client(transform)
    # Beam asks for the client on every pull: the same wrapper keeps the failure episode.
    assert _PubSubReadEvaluator._get_subscriber_client(transform) is first
    assert isinstance(first, DirectRunnerPullClient)
    assert (first.timeout, first.grace) == (2, 30)
    # A topic read pulls from Beam's temporary subscription: errors say which topic it is for.
    topic_read = Transform()
    topic_read.transform = Transform()
    topic_read.transform._source = Transform()
    topic_read.transform._source.full_topic = 'projects/p/topics/events'
    topic_read.transform._source.full_subscription = None
    wrapper = _PubSubReadEvaluator._get_subscriber_client(topic_read)
    assert wrapper._name('projects/p/subscriptions/beam_1') == (
        'projects/p/subscriptions/beam_1 (temporary subscription of topic '
        'projects/p/topics/events)')
  finally:
    set_direct_runner_pull_timeout(previous[0])
    set_direct_runner_pull_grace(previous[1])
  with pytest.raises(ValueError, match='grace'):
    set_direct_runner_pull_grace(0)
