"""A local alert receiver: an HTTP server on 127.0.0.1 that records every alert POSTed to it
(``--alert_webhook``), with the time it arrived. ``make run-streaming`` measures alert latency
with it; the tests use it as the webhook. It can answer the first ``fail_first`` requests with
HTTP 500, to show retries."""

import http.server
import json
import threading
import time


class Webhook:
  """``with Webhook() as hook:`` ... ``hook.url``; ``hook.received``: (monotonic, wall, body)."""

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
