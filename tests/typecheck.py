"""mypy on the library, under the name users import it by: ``beam_pipelines.transforms``.

    python tests/typecheck.py        # `make typecheck`; exit code is mypy's

The library's folder is ``transforms/`` and setup.py installs it as ``beam_pipelines.transforms``
(package_dir). mypy reads folders, not setup.py, and does not follow the editable install's
import hook, so ``mypy transforms/`` checks a package named ``transforms`` whose imports of
``beam_pipelines.transforms.*`` are all "not found". This script gives mypy the installed
layout instead: a temporary ``beam_pipelines/`` holding the package's ``__init__.py`` and a
symlink ``transforms`` -> the folder, then ``mypy -p beam_pipelines.transforms`` with the
repository's mypy.ini. Paths in mypy's report are given back as repository paths.
"""

import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'beam_pipelines.transforms'


def run_mypy(extra_args=()):
  """(exit code, report) of mypy on the library."""
  with tempfile.TemporaryDirectory(prefix='typecheck-') as root:
    package = os.path.join(root, 'beam_pipelines')
    os.makedirs(package)
    shutil.copyfile(os.path.join(REPO, 'beam_pipelines', '__init__.py'),
                    os.path.join(package, '__init__.py'))
    os.symlink(os.path.join(REPO, 'transforms'), os.path.join(package, 'transforms'))
    env = dict(os.environ, MYPYPATH=root)
    done = subprocess.run(
        [sys.executable, '-m', 'mypy', '-p', PACKAGE,
         '--config-file', os.path.join(REPO, 'mypy.ini'),
         '--cache-dir', os.path.join(REPO, '.mypy_cache'), *extra_args],
        cwd=root, env=env, capture_output=True, text=True, check=False)
  report = (done.stdout + done.stderr).replace('beam_pipelines/transforms/', 'transforms/')
  return done.returncode, report


def main(argv=None):
  code, report = run_mypy(sys.argv[1:] if argv is None else argv)
  print(report, end='')
  return code


if __name__ == '__main__':
  sys.exit(main())
