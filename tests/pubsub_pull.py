"""Test helper: pull (and ack) every message of a Pub/Sub subscription on the emulator."""

import time


def pull_messages(subscription, expect, timeout=60):
  """Pulls (and acks) messages until ``expect`` arrived or ``timeout`` seconds passed; the
  ``PubsubMessage`` objects, in arrival order."""
  from google.cloud import pubsub_v1
  subscriber = pubsub_v1.SubscriberClient()
  got = []
  deadline = time.monotonic() + timeout
  while len(got) < expect and time.monotonic() < deadline:
    response = subscriber.pull(subscription=subscription, max_messages=100, timeout=5)
    if response.received_messages:
      subscriber.acknowledge(subscription=subscription,
                             ack_ids=[m.ack_id for m in response.received_messages])
      got.extend(m.message for m in response.received_messages)
  return got
