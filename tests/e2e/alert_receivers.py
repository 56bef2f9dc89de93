"""A local webhook for alert tests: an HTTP server on 127.0.0.1 that records what is POSTed
(and when), answering the first ``fail_first`` requests with HTTP 500."""

import http.server
import json
import threading
import time


class Webhook:
  def __init__(self, fail_first=0):
    self.received = []       # (monotonic time, wall time, body as dict)
    self.requests = 0
    self._fail_first = fail_first
    hook = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def do_POST(self):  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        hook.requests += 1
        if hook.requests <= hook._fail_first:
          self.send_response(500)
          self.end_headers()
          return
        hook.received.append((time.monotonic(), time.time(), json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')

      def log_message(self, *args):
        pass

    self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    self.url = f'http://127.0.0.1:{self._server.server_port}/alerts'
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._server.shutdown()
    self._server.server_close()


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
