"""Build the sdist and the wheel, and install the wheel into a fresh virtualenv outside the
repository, for tests/e2e/test_wheel.py.

Why this way (offline, ~10 s): ``pip install`` of the wheel *with* its dependencies into a
fresh venv downloads apache-beam[gcp] and friends (~60-90 s, ~840 MB, and needs PyPI). Here
the fresh venv gets the wheel alone (``pip --python NEW install --no-deps``), and its
dependencies from the project venv's site-packages through a ``.pth`` file pointing at a
folder of symlinks to every entry of that site-packages *except* this project's own
(``beam_pipelines*``, ``__editable__*``): the editable install's import hook never runs
there, so ``beam_pipelines`` can only come from the wheel (the test checks
``beam_pipelines.__file__``). That the wheel declares the dependencies it needs is checked
from its METADATA against what the project venv has (``unmet_requirements``).
"""

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the sdist is built from: the build inputs of setup.py and MANIFEST.in.
SOURCE_ENTRIES = ('setup.py', 'MANIFEST.in', 'README.md', 'constraints.txt', 'transforms',
                  'beam_pipelines', 'templates', 'samples', 'examples')
_OWN = ('beam_pipelines', '__editable__', 'transforms')


def build(workdir):
  """Copies the build inputs to ``workdir/src`` and builds the sdist, then the wheel from the
  sdist (``python -m build``, no isolation: offline). Returns (sdist, wheel) paths."""
  src = os.path.join(workdir, 'src')
  for entry in SOURCE_ENTRIES:
    path = os.path.join(REPO, entry)
    if os.path.isdir(path):
      shutil.copytree(path, os.path.join(src, entry),
                      ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info'))
    else:
      os.makedirs(src, exist_ok=True)
      shutil.copy2(path, os.path.join(src, entry))
  dist = os.path.join(workdir, 'dist')
  subprocess.run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', dist, src],
                 check=True, capture_output=True, text=True)
  (sdist,) = glob.glob(os.path.join(dist, '*.tar.gz'))
  (wheel,) = glob.glob(os.path.join(dist, '*.whl'))
  return sdist, wheel


def wheel_files(wheel):
  with zipfile.ZipFile(wheel) as z:
    return sorted(z.namelist())


def wheel_metadata(wheel):
  with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
    return z.read(name).decode('utf-8')


def unmet_requirements(metadata, extras=('local',)):
  """Requires-Dist lines of the wheel (base and ``extras``) that the project venv does not
  satisfy: what a `pip install beam-pipelines[local]` would have to bring that we lack."""
  from importlib.metadata import PackageNotFoundError, version

  from packaging.requirements import Requirement
  unmet = []
  for line in metadata.splitlines():
    if not line.startswith('Requires-Dist:'):
      continue
    req = Requirement(line.split(':', 1)[1].strip())
    if req.marker and not any(req.marker.evaluate({'extra': e}) for e in ('',) + extras):
      continue
    try:
      installed = version(req.name)
    except PackageNotFoundError:
      unmet.append(f'{req} (not installed)')
      continue
    if installed not in req.specifier:
      unmet.append(f'{req} (installed {installed})')
  return unmet


def _deps_folder(path):
  """A folder of symlinks to the project venv's site-packages, less this project."""
  os.makedirs(path)
  purelib = sysconfig.get_paths()['purelib']
  for name in os.listdir(purelib):
    if name.startswith(_OWN) or name == '__pycache__':
      continue
    os.symlink(os.path.join(purelib, name), os.path.join(path, name))
  return path


def make_venv(workdir, wheel):
  """A fresh venv at ``workdir/venv`` holding the wheel (and the dependencies of the project
  venv, see the module docstring). Returns the venv's python."""
  venv = os.path.join(workdir, 'venv')
  subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv], check=True)
  python = os.path.join(venv, 'bin', 'python')
  deps = _deps_folder(os.path.join(workdir, 'deps'))
  new_site = subprocess.run(
      [python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
      check=True, capture_output=True, text=True).stdout.strip()
  with open(os.path.join(new_site, '_project_deps.pth'), 'w', encoding='utf-8') as f:
    f.write(f'import site; site.addsitedir({deps!r})\n')
  subprocess.run([sys.executable, '-m', 'pip', '--python', python, 'install', '--no-deps',
                  '--no-index', '--quiet', wheel], check=True, capture_output=True, text=True)
  return python


def clean_env(venv_python):
  """The environment of a user of the venv: its bin first on PATH, no project venv, no
  emulator variables left over from the test session, no PYTHONPATH."""
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'BIGQUERY_EMULATOR_HOST',
                      'PUBSUB_EMULATOR_HOST', 'PYTEST_CURRENT_TEST')}
  project_bin = os.path.dirname(sys.executable)
  path = [p for p in env.get('PATH', '').split(os.pathsep) if p and p != project_bin]
  env['PATH'] = os.pathsep.join([os.path.dirname(venv_python)] + path)
  env['VIRTUAL_ENV'] = os.path.dirname(os.path.dirname(venv_python))
  return env
