"""Shared fixtures: loopback-only networking and real local emulators.

The BigQuery emulator (bqemulator) and the official Pub/Sub emulator run as child processes
on free 127.0.0.1 ports for the whole session and are killed by pid at the end. Each test
gets its own dataset / topic so tests cannot see each other's data.
"""

import os
import sys
import uuid

# Imported up front: hypothesis's pytest plugin otherwise imports it lazily at session end,
# and on CPython 3.11.7 pytest's assertion rewriting of it then failed with "SystemError: AST
# constructor recursion depth mismatch" (seen when running a subset of the tests).
import hypothesis  # noqa: F401  pylint: disable=unused-import
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))

# Nothing may probe a GCE metadata server: point it at a closed loopback port.
os.environ['NO_GCE_CHECK'] = 'True'
os.environ['GCE_METADATA_HOST'] = '127.0.0.1:9'
os.environ['GCE_METADATA_IP'] = '127.0.0.1:9'
os.environ.pop('GOOGLE_APPLICATION_CREDENTIALS', None)

import network_guard  # noqa: E402  pylint: disable=wrong-import-position

network_guard.install()

from beam_pipelines.tools.emulators import (  # noqa: E402  pylint: disable=wrong-import-position
  BigQueryEmulator, PubSubEmulator, prepare_duckdb_extensions)

SAMPLES = os.path.join(REPO, 'samples')


def _serve(emulator):
  """Starts an emulator, points its environment variables at it, yields it; on teardown
  kills it (by process group) and restores the variables."""
  emulator.start()
  saved = {k: os.environ.get(k) for k in emulator.environment()}
  os.environ.update(emulator.environment())
  try:
    yield emulator
  finally:
    emulator.stop()
    for key, value in saved.items():
      if value is None:
        os.environ.pop(key, None)
      else:
        os.environ[key] = value


@pytest.fixture(scope='session')
def bigquery_emulator(tmp_path_factory):
  """A bqemulator process for the session; BIGQUERY_EMULATOR_HOST points at it."""
  prepare_duckdb_extensions()
  yield from _serve(BigQueryEmulator(log_dir=str(tmp_path_factory.mktemp('bqemulator'))))


@pytest.fixture(scope='session')
def pubsub_emulator(tmp_path_factory):
  """The official Pub/Sub emulator jar for the session; PUBSUB_EMULATOR_HOST points at it.

  Fails (not skips) with a clear message when the jar or java is missing.
  """
  yield from _serve(PubSubEmulator(log_dir=str(tmp_path_factory.mktemp('pubsub'))))


@pytest.fixture
def bq_client(bigquery_emulator):
  return bigquery_emulator.client()


@pytest.fixture
def bq_dataset(bigquery_emulator, bq_client):
  """A fresh dataset for one test, deleted afterwards."""
  dataset_id = 'ds_' + uuid.uuid4().hex[:12]
  bq_client.create_dataset(dataset_id)
  yield dataset_id
  bq_client.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True)


@pytest.fixture
def pubsub_topic_factory(pubsub_emulator):
  """A function () -> (topic_path, subscription_path) of a fresh topic and a subscription
  on it (for tests that need several, e.g. one per Hypothesis example); all are deleted
  afterwards."""
  from google.cloud import pubsub_v1
  publisher = pubsub_v1.PublisherClient()
  subscriber = pubsub_v1.SubscriberClient()
  made = []

  def make():
    name = 'topic-' + uuid.uuid4().hex[:12]
    topic = publisher.topic_path(pubsub_emulator.project, name)
    subscription = subscriber.subscription_path(pubsub_emulator.project, name + '-sub')
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    made.append((topic, subscription))
    return topic, subscription
  yield make
  for topic, subscription in made:
    subscriber.delete_subscription(subscription=subscription)
    publisher.delete_topic(topic=topic)


@pytest.fixture
def pubsub_topic(pubsub_topic_factory):
  """A fresh topic and a subscription on it: (topic_path, subscription_path)."""
  return pubsub_topic_factory()
