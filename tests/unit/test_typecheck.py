"""mypy on the library (``make typecheck``): clean, and it really checks the library under
its import name (every module of transforms/, not a package of unresolved imports)."""

import os

import typecheck

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_library_is_mypy_clean():
  code, report = typecheck.run_mypy()
  modules = sum(1 for _, _, names in os.walk(os.path.join(REPO, 'transforms'))
                for n in names if n.endswith('.py'))
  assert code == 0, report
  assert f'Success: no issues found in {modules} source files' in report, report
