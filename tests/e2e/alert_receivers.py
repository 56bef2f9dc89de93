"""Receivers for alert tests: the local webhook (``beam_pipelines.tools.webhook``) and a pull
of every message on a subscription."""

import json
import time

from beam_pipelines.tools.webhook import Webhook  # noqa: F401  (the tests' webhook)


def pull_all(subscription, expect, timeout=30):
  """Pulls (and acks) messages from a subscription until ``expect`` arrived or timeout."""
  from google.cloud import pubsub_v1
  subscriber = pubsub_v1.SubscriberClient()
  got = []
  deadline = time.monotonic() + timeout
  while len(got) < expect and time.monotonic() < deadline:
    response = subscriber.pull(subscription=subscription, max_messages=50, timeout=5)
    if response.received_messages:
      subscriber.acknowledge(subscription=subscription,
                             ack_ids=[m.ack_id for m in response.received_messages])
    got += [(json.loads(m.message.data), dict(m.message.attributes))
            for m in response.received_messages]
  return got
