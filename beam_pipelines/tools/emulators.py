"""Start and stop the local BigQuery and Pub/Sub emulators on free loopback ports.

Used by ``make run`` (the demo) and by the test fixtures; also handy by hand::

    python -m beam_pipelines.tools.emulators prepare   # install DuckDB extensions (offline)

Each emulator is a child process killed by pid (and its process group) on ``stop()``.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PUBSUB_JAR_GLOB = ('/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/'
                   'cloud-pubsub-emulator-*-all.jar')
DEFAULT_PROJECT = 'test-project'


def _die_with_parent():
  """Runs in the child before exec: ask Linux to SIGTERM it when its parent dies, so an
  emulator never outlives a killed test run or demo (PR_SET_PDEATHSIG; no-op elsewhere)."""
  try:
    import ctypes
    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass


class EmulatorError(RuntimeError):
  """An emulator could not be started; the message says why and where its log is."""


def free_port():
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def wait_for_port(port, process, timeout, log_path):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise EmulatorError(f'emulator exited with code {process.returncode}; '
                          f'see {log_path}:\n{_tail(log_path)}')
    try:
      with socket.create_connection(('127.0.0.1', port), timeout=0.5):
        return
    except OSError:
      time.sleep(0.1)
  raise EmulatorError(f'emulator did not open port {port} within {timeout}s; see {log_path}')


def _tail(path, lines=20):
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      return ''.join(f.readlines()[-lines:])
  except OSError:
    return ''


def prepare_duckdb_extensions():
  """Installs DuckDB's spatial and avro extensions from their wheels (no download)."""
  import duckdb_extensions
  for name in ('spatial', 'avro'):
    duckdb_extensions.import_extension(name)


class _Emulator:
  name = 'emulator'

  def __init__(self, log_dir=None):
    self.log_dir = log_dir or tempfile.mkdtemp(prefix=f'{self.name}-log-')
    self.log_path = os.path.join(self.log_dir, f'{self.name}.log')
    self.process = None
    self.port = None

  def _command(self):
    raise NotImplementedError

  def start(self, timeout=60):
    command = self._command()
    with open(self.log_path, 'ab') as log:
      self.process = subprocess.Popen(
          command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
          start_new_session=True, preexec_fn=_die_with_parent)
    try:
      wait_for_port(self.port, self.process, timeout, self.log_path)
    except EmulatorError:
      self.stop()
      raise
    return self

  def stop(self):
    process, self.process = self.process, None
    if process is None or process.poll() is not None:
      return
    try:
      os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
      return
    try:
      process.wait(timeout=10)
    except subprocess.TimeoutExpired:
      os.killpg(process.pid, signal.SIGKILL)
      process.wait(timeout=10)

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()


class BigQueryEmulator(_Emulator):
  """bqemulator (DuckDB-backed BigQuery REST + gRPC) on free loopback ports.

  ``data_dir`` makes it persistent (its DuckDB file lives there); otherwise in-memory.
  """
  name = 'bqemulator'

  def __init__(self, data_dir=None, project=DEFAULT_PROJECT, log_dir=None):
    super().__init__(log_dir)
    self.data_dir = data_dir
    self.project = project
    self.grpc_port = None

  def _command(self):
    executable = shutil.which('bqemulator', path=os.path.dirname(sys.executable)) or \
        shutil.which('bqemulator')
    if not executable:
      raise EmulatorError('bqemulator is not installed: run `make install`')
    self.port, self.grpc_port = free_port(), free_port()
    command = [executable, 'start', '--rest-host', '127.0.0.1', '--rest-port', str(self.port),
               '--grpc-host', '127.0.0.1', '--grpc-port', str(self.grpc_port),
               '--project', self.project, '--log-level', 'warning']
    if self.data_dir:
      os.makedirs(self.data_dir, exist_ok=True)
      command += ['--persistent', '--data-dir', self.data_dir]
    return command

  @property
  def endpoint(self):
    return f'http://127.0.0.1:{self.port}'

  def environment(self):
    return {'BIGQUERY_EMULATOR_HOST': self.endpoint, 'GOOGLE_CLOUD_PROJECT': self.project}

  def client(self):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    return bigquery.Client(project=self.project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=self.endpoint))


def pubsub_emulator_jar():
  """The official Pub/Sub emulator jar shipped with the machine's gcloud, or EmulatorError."""
  jars = sorted(glob.glob(PUBSUB_JAR_GLOB))
  if not jars:
    raise EmulatorError(
        f'the Pub/Sub emulator jar is missing (looked for {PUBSUB_JAR_GLOB}). Install it '
        'with `gcloud components install pubsub-emulator` (or the Debian package '
        'google-cloud-cli-pubsub-emulator) and make sure `java` (17+) is on PATH.')
  if not shutil.which('java'):
    raise EmulatorError('java is not on PATH; the Pub/Sub emulator needs Java 17+')
  return jars[-1]


class PubSubEmulator(_Emulator):
  """The official Pub/Sub emulator jar on a loopback port (``port``, else a free one).

  ``stop()`` then ``start()`` restarts it on the same port, as a service restart looks to a
  client; it keeps everything in memory, so it comes back with no topics, subscriptions or
  messages (the real service is durable).
  """
  name = 'pubsub-emulator'

  def __init__(self, project=DEFAULT_PROJECT, log_dir=None, port=None):
    super().__init__(log_dir)
    self.project = project
    self.port = port

  def _command(self):
    jar = pubsub_emulator_jar()
    if self.port is None:
      self.port = free_port()
    return ['java', '-Xmx512m', '-jar', jar, '--host=127.0.0.1', f'--port={self.port}']

  @property
  def host(self):
    return f'127.0.0.1:{self.port}'

  def environment(self):
    return {'PUBSUB_EMULATOR_HOST': self.host, 'GOOGLE_CLOUD_PROJECT': self.project}


def main(argv):
  if argv[:1] == ['prepare']:
    prepare_duckdb_extensions()
    print('DuckDB extensions ready (spatial, avro)')
    return 0
  print('usage: python -m beam_pipelines.local_emulators prepare', file=sys.stderr)
  return 2


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
