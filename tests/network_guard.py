"""Makes any connection from the test process to a non-loopback address fail loudly.

Tests and the code under test may talk to 127.0.0.0/8, ::1 and Unix sockets only. Name
lookups of anything but localhost are refused too (a lookup is already traffic).
"""

import ipaddress
import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {'localhost', 'localhost.localdomain', 'ip6-localhost', ''}


class NonLoopbackConnectionError(ConnectionRefusedError):
  """Raised for an attempt to reach a non-loopback address from tests."""


def _is_loopback_host(host):
  if isinstance(host, bytes):
    host = host.decode('ascii', 'replace')
  host = str(host).strip('[]')
  if host.lower() in _LOCAL_NAMES:
    return True
  try:
    return ipaddress.ip_address(host.split('%')[0]).is_loopback
  except ValueError:
    return False


def _check(sock, address):
  if sock.family not in (socket.AF_INET, socket.AF_INET6):
    return
  host = address[0] if isinstance(address, tuple) else address
  if not _is_loopback_host(host):
    raise NonLoopbackConnectionError(
        f'test tried to connect to non-loopback address {address!r}; tests may only talk '
        'to 127.0.0.1 (set the *_EMULATOR_HOST variables)')


def _guarded_connect(self, address):
  _check(self, address)
  return _real_connect(self, address)


def _guarded_connect_ex(self, address):
  _check(self, address)
  return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
  if host is not None and not _is_loopback_host(host):
    raise NonLoopbackConnectionError(f'test tried to resolve non-loopback host {host!r}')
  return _real_getaddrinfo(host, *args, **kwargs)


def install():
  socket.socket.connect = _guarded_connect
  socket.socket.connect_ex = _guarded_connect_ex
  socket.getaddrinfo = _guarded_getaddrinfo


def uninstall():
  socket.socket.connect = _real_connect
  socket.socket.connect_ex = _real_connect_ex
  socket.getaddrinfo = _real_getaddrinfo
