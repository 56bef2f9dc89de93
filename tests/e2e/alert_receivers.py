"""Receivers for alert tests: the local webhook (``beam_pipelines.tools.webhook``) and a pull
of every message on a subscription."""

import json

from pubsub_pull import pull_messages

from beam_pipelines.tools.webhook import Webhook  # noqa: F401  (the tests' webhook)


def pull_all(subscription, expect, timeout=30):
  """(JSON body, attributes) of every message pulled (and acked) until ``expect`` arrived."""
  return [(json.loads(m.data), dict(m.attributes))
          for m in pull_messages(subscription, expect, timeout)]
