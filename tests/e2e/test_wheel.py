"""The product as a new user gets it: the wheel built from the sdist, installed into a fresh
virtualenv outside the repository (tests/wheel_env.py says how, and why offline), then used
from a folder of the user's own with their own ``transforms.py`` in it.

One module-scoped install serves every test here. Each command runs as a subprocess of the
venv's python or its ``beam-pipelines`` command, with a clean environment (its bin on PATH,
no project venv, no PYTHONPATH, no emulator variables of the test session).
"""

import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest
import wheel_env

pytestmark = pytest.mark.slow
REPO = wheel_env.REPO
TEMPLATES = sorted(d for d in os.listdir(os.path.join(REPO, 'templates'))
                   if os.path.isfile(os.path.join(REPO, 'templates', d, 'metadata.json')))
PIPELINES = ('files_to_bigquery', 'pubsub_to_bigquery', 'replay_dead_letters')
# The user's own module named like the library's folder: it must neither break a run nor be
# replaced by the library.
USER_TRANSFORMS = ('"""A user\'s own module that happens to be called transforms."""\n'
                   'WHO = "the user"\n'
                   'import os\n'
                   'if os.environ.get("USER_TRANSFORMS_MUST_NOT_LOAD"):\n'
                   '  raise ImportError("the user\'s transforms.py was imported")\n')


class Installed:
  """The built artifacts, the venv and a user folder outside the repository."""

  def __init__(self, workdir):
    started = time.monotonic()
    self.sdist, self.wheel = wheel_env.build(workdir)
    self.python = wheel_env.make_venv(workdir, self.wheel)
    self.seconds = time.monotonic() - started
    self.bin = os.path.dirname(self.python)
    self.env = wheel_env.clean_env(self.python)
    self.user = os.path.join(workdir, 'user')
    os.makedirs(self.user)
    with open(os.path.join(self.user, 'transforms.py'), 'w', encoding='utf-8') as f:
      f.write(USER_TRANSFORMS)

  def run(self, argv, timeout=300, env=None, check=True):
    """Runs argv (``beam-pipelines ...`` or ``python ...``) in the user folder."""
    if argv[0] in ('beam-pipelines', 'python'):
      argv = [os.path.join(self.bin, argv[0])] + list(argv[1:])
    done = subprocess.run(argv, cwd=self.user, env=dict(self.env, **(env or {})),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check:
      assert done.returncode == 0, (argv, done.returncode, done.stdout[-3000:],
                                    done.stderr[-3000:])
    return done


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
  return Installed(str(tmp_path_factory.mktemp('wheel')))


def test_wheel_holds_what_a_user_needs_at_run_time(installed):
  files = wheel_env.wheel_files(installed.wheel)
  print(f'wheel {os.path.basename(installed.wheel)}: {len(files)} files, '
        f'{os.path.getsize(installed.wheel)} bytes; built and installed in '
        f'{installed.seconds:.1f}s')
  for template in TEMPLATES:
    for name in ('metadata.json', 'sample_parameters.json'):
      assert f'beam_pipelines/templates/{template}/{name}' in files
  # Every data file of samples/ and examples/, sub-folders (cdc/) included.
  for folder in ('samples', 'examples'):
    for root, dirs, names in os.walk(os.path.join(REPO, folder)):
      dirs[:] = [d for d in dirs if d != '__pycache__']
      for name in names:
        if not name.endswith('.pyc') and (folder == 'examples' or not name.endswith('.py')):
          path = os.path.relpath(os.path.join(root, name), REPO)
          assert f'beam_pipelines/{path}' in files, path
  # Every YAML file of the library (the Beam YAML provider spec among them) ships with it.
  library_yaml = [os.path.relpath(os.path.join(d, n), os.path.join(REPO, 'transforms'))
                  for d, _, names in os.walk(os.path.join(REPO, 'transforms'))
                  for n in names if n.endswith(('.yaml', '.yml'))]
  for name in library_yaml:
    assert f'beam_pipelines/transforms/{name}' in files, name
  for marker in ('beam_pipelines/py.typed', 'beam_pipelines/transforms/py.typed',
                 'transforms/py.typed'):
    assert marker in files
  # The deprecated top-level alias is the package __init__ only, not a second library copy.
  assert sorted(f for f in files if f.startswith('transforms/')) == [
      'transforms/__init__.py', 'transforms/compat.py', 'transforms/py.typed']
  assert not any(f.startswith(('tests/', 'bench/')) for f in files)
  entry_points = next(f for f in files if f.endswith('.dist-info/entry_points.txt'))
  with zipfile.ZipFile(installed.wheel) as z:
    assert 'beam-pipelines = beam_pipelines.commands:main' in z.read(entry_points).decode()


def test_sdist_holds_the_build_inputs(installed):
  with tarfile.open(installed.sdist) as t:
    names = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
  for name in ('setup.py', 'MANIFEST.in', 'README.md', 'examples/pipeline.yaml',
               'samples/events.jsonl', 'transforms/py.typed'):
    assert name in names, name
  for template in TEMPLATES:
    assert f'templates/{template}/metadata.json' in names


def test_declared_dependencies_and_local_extra_are_what_the_project_runs_with(installed):
  metadata = wheel_env.wheel_metadata(installed.wheel)
  assert 'Provides-Extra: local' in metadata and 'Provides-Extra: test' in metadata
  assert "bqemulator==1.4.0; extra == \"local\"" in metadata
  assert wheel_env.unmet_requirements(metadata, extras=('local',)) == []


def test_the_package_comes_from_the_venv_not_the_repository(installed):
  out = installed.run(['python', '-c', (
      'import beam_pipelines, beam_pipelines.transforms as t, transforms as own;'
      'print(beam_pipelines.__file__); print(t.__file__); print(own.__file__)')]).stdout
  package, library, own = out.split()
  venv = os.path.dirname(installed.bin)
  assert package.startswith(venv + os.sep) and library.startswith(venv + os.sep)
  assert not package.startswith(REPO) and not library.startswith(REPO)
  # In the user's folder, `import transforms` is the user's own module, not the library.
  assert own == os.path.join(installed.user, 'transforms.py')


@pytest.mark.parametrize('command', ['files-to-bigquery', 'pubsub-to-bigquery',
                                     'replay-dead-letters', 'forget', 'launch', 'emulators',
                                     'samples', 'demo', 'streaming-demo'])
def test_every_console_command_has_help(installed, command):
  out = installed.run(['beam-pipelines', command, '--help']).stdout
  assert out.startswith(f'usage: beam-pipelines {command}'), out[:300]


@pytest.mark.parametrize('module', [f'beam_pipelines.{p}' for p in PIPELINES]
                         + ['beam_pipelines.local_emulators'])
def test_python_m_help_lists_the_options(installed, module):
  out = installed.run(['python', '-m', module, '--help']).stdout
  assert out.startswith('usage: python -m'), out[:300]
  if module.endswith(PIPELINES):
    assert '--schema' in out or '--error_type' in out
    assert '--help_beam' in out and 'beam.apache.org' in out


def test_files_to_bigquery_run_to_files_with_a_user_transforms_py(installed):
  installed.run(['beam-pipelines', 'samples', '.'])
  with open(os.path.join(installed.user, 'samples', 'events.jsonl'), 'rb') as f:
    lines = f.readlines()[:200]
  with open(os.path.join(installed.user, 'small.jsonl'), 'wb') as f:
    f.writelines(lines)
  # The user's transforms.py raises if anything imports it: the library must not.
  done = installed.run(['python', '-m', 'beam_pipelines.files_to_bigquery',
                        '--input', 'small.jsonl', '--schema', 'samples/events_schema.json',
                        '--output_path', 'out/events', '--output_format', 'jsonl',
                        '--load_mode', 'append'],
                       env={'USER_TRANSFORMS_MUST_NOT_LOAD': '1'})
  rows = _count_lines(os.path.join(installed.user, 'out'), 'events-')
  dead = _count_lines(os.path.join(installed.user, 'out'), 'events_error_records-')
  assert rows + dead == 200 and rows > 150 and dead > 0, done.stdout[-2000:]
  assert 'files_to_bigquery summary' in done.stdout
  # And a user script importing its own transforms alongside the library gets both.
  script = ('import transforms\n'
            'from beam_pipelines.transforms import ReadEvents\n'
            'import transforms as again\n'
            'print(transforms.WHO, again.WHO, ReadEvents.__module__)\n')
  out = installed.run(['python', '-c', script]).stdout.strip()
  assert out == 'the user the user beam_pipelines.transforms.read.events'


def test_a_users_own_transforms_package_keeps_its_submodules(installed):
  """The library's deprecated alias must not answer for a project's own ``transforms``
  package: its ``transforms.core`` stays the user's even after the library is imported."""
  project = os.path.join(installed.user, 'project')
  os.makedirs(os.path.join(project, 'transforms'))
  for name in ('__init__', 'core', 'read'):
    with open(os.path.join(project, 'transforms', f'{name}.py'), 'w', encoding='utf-8') as f:
      f.write(f'WHO = "the user\'s {name}"\n')
  script = ('import beam_pipelines.transforms as library\n'
            'import transforms.core, transforms.read\n'
            'print(transforms.core.WHO, "|", transforms.read.WHO, "|", library.ReadEvents.__name__)\n')
  done = subprocess.run([installed.python, '-c', script], cwd=project, env=installed.env,
                        capture_output=True, text=True, timeout=120, check=False)
  assert done.stdout.strip() == "the user's core | the user's read | ReadEvents", done.stderr


def _count_lines(folder, prefix):
  total = 0
  for name in os.listdir(folder):
    if name.startswith(prefix):
      with open(os.path.join(folder, name), 'rb') as f:
        total += sum(1 for line in f if line.strip())
  return total


@pytest.mark.emulator
@pytest.mark.parametrize('template', TEMPLATES)
def test_launch_local_runs_each_template_on_its_sample_parameters(installed, template):
  extra = []
  if template == 'pubsub_to_bigquery':  # a short stream: 100 sample events, 20 s
    with open(_shipped_sample(installed, 'events.jsonl'), 'rb') as events:
      first = events.readlines()[:100]
    with open(os.path.join(installed.user, 'few.jsonl'), 'wb') as f:
      f.writelines(first)
    extra = ['--publish_file', 'few.jsonl', '--duration', '20']
  done = installed.run(['beam-pipelines', 'launch', template, '--sample', '--local',
                        '--with_emulators'] + extra, timeout=600)
  summary = done.stdout
  assert f'{template} summary' in summary, summary[-2000:]
  if template == 'replay_dead_letters':
    assert _summary_value(summary, 'replayed') > 0
    assert os.listdir(os.path.join(installed.user, '.demo-data', 'replay'))
  else:
    read = _summary_value(summary, 'messages read' if 'pubsub' in template else 'records read')
    written = _summary_value(summary, 'rows written')
    assert read > 0 and written > 0, summary[-2000:]


def _shipped_sample(installed, name):
  out = installed.run(['python', '-c', 'from beam_pipelines import resources;'
                       f'print(resources.sample({name!r}))']).stdout.strip()
  assert out.startswith(os.path.dirname(installed.bin))
  return out


def _summary_value(text, label):
  for line in text.splitlines():
    if line.strip().startswith(label):
      return int(line.split()[-1])
  raise AssertionError(f'no {label!r} line in the summary:\n{text[-2000:]}')


def test_the_shipped_yaml_example_runs(installed):
  installed.run(['beam-pipelines', 'samples', '.'])
  with open(os.path.join(installed.user, 'samples', 'events.jsonl'), 'rb') as f:
    lines = f.readlines()[:300]
  with open(os.path.join(installed.user, 'in300.jsonl'), 'wb') as f:
    f.writelines(lines)
  installed.run(['python', '-m', 'apache_beam.yaml.main', '--yaml_pipeline_file',
                 'examples/pipeline.yaml', '--runner', 'FnApiRunner', '--jinja_variables',
                 json.dumps({'input': 'in300.jsonl', 'output': 'yaml-out/events'})],
                env={'BEAM_PIPELINES_DEMO_MASKING_KEY': 'wheel-test-key-0123456789abcdef'})
  out = os.path.join(installed.user, 'yaml-out')
  rows = _count_lines(out, 'events.jsonl')
  dead = _count_lines(out, 'events_error_records')
  assert (rows, dead) == (288, 12)  # the first 300 sample events hold 12 bad ones


def test_mypy_sees_the_installed_types(installed, tmp_path):
  """py.typed: a user's mypy types the library (no "missing library stubs or py.typed
  marker"), so a wrong use is an error."""
  user_file = os.path.join(installed.user, 'user_types.py')
  with open(user_file, 'w', encoding='utf-8') as f:
    f.write('from beam_pipelines.transforms import LakeSinkConfig\n\n'
            "config = LakeSinkConfig(path='out/events', format='jsonl')\n"
            'shards: str = config.num_shards\n')
  done = subprocess.run(
      [sys.executable, '-m', 'mypy', '--python-executable', installed.python,
       '--cache-dir', str(tmp_path / 'mypy-cache'), '--no-error-summary', user_file],
      cwd=installed.user, capture_output=True, text=True, timeout=300, check=False)
  assert 'py.typed' not in done.stdout and 'import-untyped' not in done.stdout, done.stdout
  assert done.stdout.strip().splitlines() == [
      'user_types.py:4: error: Incompatible types in assignment (expression has type "int", '
      'variable has type "str")  [assignment]'], done.stdout


def test_emulators_start_status_stop_from_the_venv(installed, tmp_path):
  state = ['--state_dir', str(tmp_path / 'state')]
  started = installed.run(['beam-pipelines', 'emulators', 'start', '--only', 'bigquery']
                          + state, timeout=120)
  env = dict(line[len('export '):].split('=', 1) for line in started.stdout.splitlines())
  try:
    assert env['BIGQUERY_EMULATOR_HOST'].startswith('http://127.0.0.1:')
    assert installed.run(['beam-pipelines', 'emulators', 'status'] + state).returncode == 0
  finally:
    installed.run(['beam-pipelines', 'emulators', 'stop'] + state)
  assert installed.run(['beam-pipelines', 'emulators', 'status'] + state,
                       check=False).returncode == 1
