"""The layout's rules, checked on the source: no import cycles among product modules, the
library never imports the pipelines, the flags layer never imports the chain, tests use
public names, and modules stay small enough to read.

Imports are read with ``ast`` from every product module, including imports inside functions
(a cycle held together by a function-level import is still a cycle).
"""

import ast
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PRODUCT = ('beam_pipelines',)
LIBRARY = 'beam_pipelines.transforms'  # the folder transforms/, installed under this name
# A module past this many lines is due for a split (DEVELOPERS.md: "split past ~300 lines").
MAX_MODULE_LINES = 400


def _module_name(path):
  parts = list(path.relative_to(REPO).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts = parts[:-1]
  if parts[0] == 'transforms':
    parts = ['beam_pipelines'] + parts
  return '.'.join(parts)


def _product_modules():
  modules = {}
  for folder in ('transforms', 'beam_pipelines'):
    for path in sorted((REPO / folder).rglob('*.py')):
      modules[_module_name(path)] = path
  return modules


MODULES = _product_modules()


def _resolve(importer, node):
  """The product modules an import statement names (``from pkg import mod`` -> pkg.mod)."""
  if isinstance(node, ast.Import):
    return [a.name for a in node.names if a.name.split('.')[0] in PRODUCT]
  if node.level:
    base = importer.split('.')
    if not str(MODULES[importer]).endswith('__init__.py'):
      base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    module = '.'.join(base + ([node.module] if node.module else []))
  else:
    module = node.module or ''
  if module.split('.')[0] not in PRODUCT:
    return []
  targets = []
  for alias in node.names:
    submodule = f'{module}.{alias.name}'
    targets.append(submodule if submodule in MODULES else module)
  return targets


def _import_graph():
  graph = {}
  for name, path in MODULES.items():
    tree = ast.parse(path.read_text(encoding='utf-8'))
    edges = set()
    for node in ast.walk(tree):
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        edges.update(t for t in _resolve(name, node) if t in MODULES and t != name)
    graph[name] = edges
  return graph


GRAPH = _import_graph()


def _cycles(graph):
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, result = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        result.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return result


def test_the_graph_sees_the_layers():
  # A sanity check of the checker itself: known edges are found.
  assert 'beam_pipelines.config' in GRAPH['beam_pipelines.chain']
  assert 'beam_pipelines.transforms.core.dead_letter' in GRAPH['beam_pipelines.transforms.validate.parse']
  assert _cycles({'a': {'b'}, 'b': {'a'}, 'c': {'a'}}) == [['a', 'b']]


def test_no_import_cycles_among_product_modules():
  # Edges into a package's __init__ from its own submodules are how Python imports work
  # (the parent runs first); only cycles between modules count.
  graph = {m: {t for t in edges if not m.startswith(t + '.')} for m, edges in GRAPH.items()}
  assert _cycles(graph) == []


def _in_library(module):
  return module == LIBRARY or module.startswith(LIBRARY + '.')


def test_the_library_never_imports_the_pipelines():
  # beam_pipelines/__init__.py runs first whatever is imported (the library is its
  # subpackage): it must stay empty of imports.
  assert GRAPH['beam_pipelines'] == set()
  offenders = {m: sorted(t for t in edges if not _in_library(t))
               for m, edges in GRAPH.items() if _in_library(m)}
  assert {m: e for m, e in offenders.items() if e} == {}


@pytest.mark.parametrize('layer', ['beam_pipelines.options'])
def test_the_flags_layer_never_imports_the_chain(layer):
  wiring = ('beam_pipelines.chain', 'beam_pipelines.chain_steps', 'beam_pipelines.chain_loads',
            'beam_pipelines.config')
  offenders = {m: sorted(t for t in edges if t.startswith(wiring))
               for m, edges in GRAPH.items() if m == layer or m.startswith(layer + '.')}
  assert {m: e for m, e in offenders.items() if e} == {}


def test_tests_import_only_public_names():
  private = []
  for path in sorted((REPO / 'tests').rglob('*.py')):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] in PRODUCT:
        private += [f'{path.relative_to(REPO)}:{node.lineno} {node.module}.{a.name}'
                    for a in node.names if a.name.startswith('_')]
  assert private == []


def test_modules_stay_small():
  long = {name: n for name, path in MODULES.items()
          if (n := len(path.read_text(encoding='utf-8').splitlines())) > MAX_MODULE_LINES}
  assert long == {}


def test_transforms_root_has_no_flat_modules_left():
  # One subpackage per concern; the root holds the public API and the compat aliases only.
  flat = sorted(p.name for p in (REPO / 'transforms').glob('*.py'))
  assert flat == ['__init__.py', 'compat.py']


def test_every_public_name_of_the_root_is_importable():
  import beam_pipelines.transforms as transforms
  missing = [n for n in transforms.__all__ if not hasattr(transforms, n)]
  assert missing == [] and len(set(transforms.__all__)) == len(transforms.__all__)


OLD_PATHS = [  # 0.1 paths: the top-level name itself, and the flat modules
    ('transforms', 'ReadEvents'),
    ('transforms.parse', 'ParseAndValidate'),
    ('transforms.sinks', 'parse_table_spec'),
    ('transforms.lake_sink', 'WriteRowsToFiles'),
    ('transforms.yaml_provider', 'ReadEventsFromFiles'),
    ('transforms.enrichment_sources.file', 'FileLookupSource'),
    ('transforms.errors', 'make_dead_letter'),
    ('beam_pipelines.transforms.masking.policy', 'bind_policy'),
    ('transforms.read.events', 'ReadEvents'),  # the new layout under the old name
]


def test_old_import_paths_still_work_and_warn_once():
  import subprocess
  import sys
  # A fresh interpreter: the warnings are issued once per process, at the first use.
  code = """
import importlib, warnings
for old, name in %r:
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    value = getattr(importlib.import_module(old), name)
    again = getattr(importlib.import_module(old), name)
  deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)
                  and old in str(w.message)]
  print(old, name, value is again, value.__module__, len(deprecations))
""" % (OLD_PATHS,)
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       cwd=os.fspath(REPO), check=True).stdout.splitlines()
  assert len(out) == len(OLD_PATHS)
  for line, (old, name) in zip(out, OLD_PATHS, strict=True):
    got_old, got_name, same, module, warnings_seen = line.split()
    assert (got_old, got_name, same) == (old, name, 'True')
    assert module.startswith(LIBRARY + '.')  # the object, from its new home
    # One warning each; a module that exists under the new name is only an alias of it.
    assert warnings_seen == ('0' if old == 'transforms.read.events' else '1'), line


def test_test_modules_have_unique_names():
  """pytest imports test modules by basename (no packages under tests/): two files of one
  name in different folders stop the whole collection ("import file mismatch")."""
  seen = {}
  for path in sorted((REPO / 'tests').rglob('test_*.py')):
    seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
  assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
