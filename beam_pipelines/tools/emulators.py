"""Start and stop the local BigQuery and Pub/Sub emulators on free loopback ports.

Used by ``make run`` (the demo) and by the test fixtures; also by hand (the BigQuery
emulator needs the ``local`` extra: ``pip install 'beam-pipelines[local]'``)::

    beam-pipelines emulators prepare    # install DuckDB's extensions from their wheels (offline)
    eval "$(beam-pipelines emulators start)"   # start both; export their *_EMULATOR_HOST
    beam-pipelines emulators status     # what runs, and its variables
    beam-pipelines emulators stop       # stop what `start` started

(``python -m beam_pipelines.tools.emulators ...`` is the same command.) In Python, each
emulator is a child process killed by pid (and its process group) on ``stop()``; ``start``
from the command line leaves them running and records their pids in a state file, by which
``stop`` kills them.
"""

import glob
import json
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


def _dying_with_parent(command):
  """(command, preexec_fn) that make Linux SIGTERM the emulator when this process dies, so
  it never outlives a killed test run or demo (PR_SET_PDEATHSIG). With util-linux's
  ``setpriv`` the command sets it itself: no Python runs between fork and exec, so
  ``subprocess`` can use vfork. A ``preexec_fn`` forces a plain fork, whose child runs
  gRPC's fork handlers; with gRPC threads busy (a streaming pipeline pulling) one aborted the
  child (SIGABRT, ``Check failed: next_worker->initialized_cv``) in a CI run on 2026-12-05."""
  setpriv = shutil.which('setpriv')
  if setpriv is not None:
    return [setpriv, '--pdeathsig', 'TERM', '--', *command], None
  return command, _die_with_parent


def _die_with_parent():
  """Runs in the child before exec: ask Linux to SIGTERM it when its parent dies
  (PR_SET_PDEATHSIG; no-op elsewhere). Used only without ``setpriv``."""
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


LOCAL_EXTRA_HINT = "install the local extra: pip install 'beam-pipelines[local]'"


def prepare_duckdb_extensions():
  """Installs DuckDB's spatial and avro extensions from their wheels (no download)."""
  try:
    import duckdb_extensions
  except ImportError as e:
    raise EmulatorError(f'the BigQuery emulator is not installed ({e}): '
                        f'{LOCAL_EXTRA_HINT}') from None
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

  def start(self, timeout=60, detach=False):
    """Starts the emulator and waits for its port. ``detach``: it may outlive this process
    (``emulators start``); otherwise Linux stops it when this process dies."""
    command, preexec_fn = self._command(), None
    if not detach:
      command, preexec_fn = _dying_with_parent(command)
    with open(self.log_path, 'ab') as log:
      self.process = subprocess.Popen(
          command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
          start_new_session=True, preexec_fn=preexec_fn)
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
    import importlib.util
    if importlib.util.find_spec('bqemulator') is None:
      raise EmulatorError(f'bqemulator is not installed: {LOCAL_EXTRA_HINT}')
    self.port, self.grpc_port = self.port or free_port(), self.grpc_port or free_port()
    # `python -m bqemulator`: the one this interpreter imports, console script on PATH or not
    command = [sys.executable, '-m', 'bqemulator', 'start', '--rest-host', '127.0.0.1', '--rest-port', str(self.port),
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


# ---- the command line: emulators that outlive the command, found again by a state file ----
DEFAULT_STATE_DIR = os.path.join('~', '.cache', 'beam-pipelines', 'emulators')
_MARKERS = {'bigquery': 'bqemulator', 'pubsub': 'cloud-pubsub-emulator'}


def _state_file(state_dir):
  return os.path.join(os.path.expanduser(state_dir), 'emulators.json')


def _load_state(state_dir):
  try:
    with open(_state_file(state_dir), encoding='utf-8') as f:
      return json.load(f)
  except (OSError, ValueError):
    return {'emulators': {}, 'environment': {}}


def _alive(kind, pid):
  """The process ``pid`` runs and is the ``kind`` emulator (not a reused pid)."""
  try:
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
      return _MARKERS[kind] in f.read().decode(errors='replace')
  except OSError:
    return False


def _kill(kind, pid, timeout=10):
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(pid, sig)
    except ProcessLookupError:
      return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(kind, pid):
      time.sleep(0.1)
    if not _alive(kind, pid):
      return


def _exports(environment):
  return ''.join(f'export {k}={v}\n' for k, v in sorted(environment.items()))


def _start(args):
  state = _load_state(args.state_dir)
  running = [f'{k} (pid {e["pid"]})' for k, e in state['emulators'].items()
             if _alive(k, e['pid'])]
  if running:
    raise EmulatorError(f'already running: {", ".join(running)}; stop them first')
  state_dir = os.path.expanduser(args.state_dir)
  os.makedirs(state_dir, exist_ok=True)
  started, environment = {}, {}
  try:
    if args.only in (None, 'bigquery'):
      prepare_duckdb_extensions()
      bq = BigQueryEmulator(data_dir=args.data_dir, project=args.project, log_dir=state_dir)
      bq.port = args.bigquery_port
      started['bigquery'] = bq.start(detach=True)
      environment.update(bq.environment())
    if args.only in (None, 'pubsub'):
      pubsub = PubSubEmulator(args.project, log_dir=state_dir, port=args.pubsub_port)
      started['pubsub'] = pubsub.start(detach=True)
      environment.update(pubsub.environment())
  except EmulatorError:
    for emulator in started.values():
      emulator.stop()
    raise
  state = {'emulators': {k: {'pid': e.process.pid, 'port': e.port, 'log': e.log_path}
                         for k, e in started.items()},
           'environment': environment}
  with open(_state_file(state_dir), 'w', encoding='utf-8') as f:
    json.dump(state, f, indent=2)
  for kind, entry in state['emulators'].items():
    print(f'{kind} emulator on 127.0.0.1:{entry["port"]} (pid {entry["pid"]}, log '
          f'{entry["log"]})', file=sys.stderr)
  print(_exports(environment), end='')
  return 0


def _stop(args):
  state = _load_state(args.state_dir)
  for kind, entry in state['emulators'].items():
    if _alive(kind, entry['pid']):
      _kill(kind, entry['pid'])
      print(f'stopped the {kind} emulator (pid {entry["pid"]})')
  if not state['emulators']:
    print('no emulators were started from this state directory')
  try:
    os.remove(_state_file(args.state_dir))
  except OSError:
    pass
  return 0


def _status(args):
  state = _load_state(args.state_dir)
  alive = {k: _alive(k, e['pid']) for k, e in state['emulators'].items()}
  for kind, entry in state['emulators'].items():
    print(f'{kind:<9} {"running" if alive[kind] else "stopped"}  127.0.0.1:{entry["port"]}  '
          f'pid {entry["pid"]}')
  if not alive:
    print('no emulators started')
  elif all(alive.values()):
    print(_exports(state['environment']), end='')
  return 0 if alive and all(alive.values()) else 1


def main(argv=None):
  """``beam-pipelines emulators start|stop|status|prepare`` (see the module docstring)."""
  import argparse
  from beam_pipelines.runtime.prog import prog_name
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.emulators'),
                                   description=__doc__.splitlines()[0])
  common = argparse.ArgumentParser(add_help=False)
  common.add_argument('--state_dir', default=DEFAULT_STATE_DIR,
                      help='where `start` records what it started (default %(default)s)')
  commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
  start = commands.add_parser('start', parents=[common],
                              help='start the emulators in the background and print their '
                                   'environment variables')
  start.add_argument('--only', choices=sorted(_MARKERS), help='start just this one')
  start.add_argument('--project', default=DEFAULT_PROJECT)
  start.add_argument('--bigquery_port', type=int, default=None, help='default: a free port')
  start.add_argument('--pubsub_port', type=int, default=None, help='default: a free port')
  start.add_argument('--data_dir', default=None,
                     help='keep the BigQuery data in this folder (default: in memory)')
  commands.add_parser('stop', parents=[common], help='stop the emulators `start` started')
  commands.add_parser('status', parents=[common],
                      help='say what runs; exit 1 unless all of it does')
  commands.add_parser('prepare', help="install DuckDB's extensions from their wheels")
  args = parser.parse_args(argv)
  try:
    if args.command == 'prepare':
      prepare_duckdb_extensions()
      print('DuckDB extensions ready (spatial, avro)')
      return 0
    return {'start': _start, 'stop': _stop, 'status': _status}[args.command](args)
  except EmulatorError as e:
    print(f'emulators: error: {e}', file=sys.stderr)
    return 1


if __name__ == '__main__':
  sys.exit(main())
