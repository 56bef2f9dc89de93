"""A loopback TCP proxy that can be taken down and brought back on the same port.

Stands between a client and a local emulator to simulate the service being unreachable for a
while (every connection cut, new ones refused) without the emulator losing its state — which
is what a restart of the real Pub/Sub service looks like to a client. Restarting the Pub/Sub
*emulator* instead loses every topic and subscription, and a pull that lands in the gap gets
404 NotFound, a permanent error; that races with re-creating them and makes a test flaky.
"""

import socket
import threading


class TcpOutageProxy:
  """``up()`` listens on 127.0.0.1:``port`` forwarding to ``backend_port``; ``down()`` closes
  the listener and every open connection."""

  def __init__(self, backend_port, port=0):
    self.backend_port = backend_port
    self.port = port
    self._listener = None
    self._sockets = set()
    self._lock = threading.Lock()

  def up(self):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', self.port))
    listener.listen(64)
    self.port = listener.getsockname()[1]
    self._listener = listener
    threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
    return self

  def down(self):
    with self._lock:
      sockets, self._sockets = self._sockets, set()
      listener, self._listener = self._listener, None
    for sock in [listener, *sockets]:
      if sock is None:
        continue
      try:
        sock.shutdown(socket.SHUT_RDWR)
      except OSError:
        pass
      sock.close()

  def _accept(self, listener):
    while True:
      try:
        client, _ = listener.accept()
      except OSError:
        return  # the listener was closed: the proxy is down
      try:
        backend = socket.create_connection(('127.0.0.1', self.backend_port), timeout=5)
      except OSError:
        client.close()
        continue
      backend.settimeout(None)
      with self._lock:
        self._sockets.update((client, backend))
      for source, target in ((client, backend), (backend, client)):
        threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

  @staticmethod
  def _pump(source, target):
    try:
      while True:
        data = source.recv(65536)
        if not data:
          break
        target.sendall(data)
    except OSError:
      pass
    finally:
      for sock in (source, target):
        try:
          sock.shutdown(socket.SHUT_RDWR)
        except OSError:
          pass
