"""Regenerates the tables in docs/ that are copies of facts kept in code, so they cannot drift.

    python docs/update_docs.py            # rewrite the generated blocks
    python docs/update_docs.py --check    # exit 1 naming every file that would change

A generated block sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``
in a docs page; everything outside the markers is written by hand. The blocks:

- ``moved-modules`` (docs/layout.md): ``beam_pipelines.transforms.compat.MOVED``, old module
  -> new modules.
- ``moved-names`` (docs/layout.md): names that left a module which still exists, from every
  ``moved_names(__name__, {...})`` call under ``transforms/``.
- ``module-aliases`` (docs/layout.md): the deprecated ``python -m`` aliases, the modules of
  ``beam_pipelines/`` whose docstring starts with "Deprecated alias of".
- ``beam-patches`` (docs/beam_patches.md): the table in ``transforms/beam_patches/__init__.py``.

tests/unit/test_docs.py runs the check.
"""

import ast
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)


def _rst_to_md(text):
  return text.replace('``', '`')


def moved_modules():
  from beam_pipelines.transforms.compat import (  # pylint: disable=import-outside-toplevel
    MOVED, NEW_ROOT)
  lines = ['| old module (deprecated since 0.2) | its names now live in |', '|---|---|']
  for old in sorted(MOVED):
    lines.append(f'| `{old}` | ' + ', '.join(f'`{NEW_ROOT}.{new}`' for new in MOVED[old]) + ' |')
  return '\n'.join(lines)


def moved_names_calls():
  """[(module, name, new module)] from every ``moved_names(__name__, {...})`` under transforms/."""
  found = []
  for root, _, files in os.walk(os.path.join(REPO, 'transforms')):
    for file in sorted(files):
      if not file.endswith('.py'):
        continue
      path = os.path.join(root, file)
      with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
      module = 'beam_pipelines.' + os.path.relpath(path, REPO)[:-3].replace(os.sep, '.')
      module = module[:-len('.__init__')] if module.endswith('.__init__') else module
      for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'moved_names'
            and len(node.args) == 2 and isinstance(node.args[1], ast.Dict)):
          for name, target in ast.literal_eval(node.args[1]).items():
            found.append((module, name, target))
  return sorted(found)


def moved_names():
  lines = ['| old name (deprecated since 0.2) | now in |', '|---|---|']
  for module, name, target in moved_names_calls():
    lines.append(f'| `{module}.{name}` | `{target}` |')
  return '\n'.join(lines)


def module_aliases():
  """The deprecated ``python -m`` aliases: (old module, new module)."""
  aliases = []
  folder = os.path.join(REPO, 'beam_pipelines')
  for file in sorted(os.listdir(folder)):
    if not file.endswith('.py'):
      continue
    with open(os.path.join(folder, file), encoding='utf-8') as f:
      doc = ast.get_docstring(ast.parse(f.read())) or ''
    match = re.match(r'Deprecated alias of ``([\w.]+)``', doc)
    if match:
      aliases.append((f'beam_pipelines.{file[:-3]}', match.group(1)))
  return aliases


def module_aliases_table():
  lines = ['| deprecated command (warns once) | use |', '|---|---|']
  for old, new in module_aliases():
    lines.append(f'| `python -m {old}` | `python -m {new}` |')
  return '\n'.join(lines)


def beam_patches_table():
  import beam_pipelines.transforms.beam_patches as patches  # pylint: disable=import-outside-toplevel
  rows = [line.strip() for line in patches.__doc__.splitlines() if line.strip().startswith('|')]
  return '\n'.join(_rst_to_md(row) for row in rows)


BLOCKS = {
    'moved-modules': ('layout.md', moved_modules),
    'moved-names': ('layout.md', moved_names),
    'module-aliases': ('layout.md', module_aliases_table),
    'beam-patches': ('beam_patches.md', beam_patches_table),
}


def render(text, name, body):
  """``text`` with the block ``name`` replaced by ``body`` (ValueError without the markers)."""
  pattern = re.compile(r'(<!-- generated:' + re.escape(name) + r' -->\n).*?(<!-- /generated:'
                       + re.escape(name) + r' -->)', re.DOTALL)
  if not pattern.search(text):
    raise ValueError(f'no generated:{name} block')
  return pattern.sub(lambda m: m.group(1) + body + '\n' + m.group(2), text, count=1)


def updated_pages():
  """{path: (current text, text with every block regenerated)}."""
  pages = {}
  for name, (page, make) in BLOCKS.items():
    path = os.path.join(HERE, page)
    if path not in pages:
      with open(path, encoding='utf-8') as f:
        text = f.read()
      pages[path] = (text, text)
    current, new = pages[path]
    pages[path] = (current, render(new, name, make()))
  return pages


def main(argv=None):
  check = '--check' in (sys.argv[1:] if argv is None else argv)
  stale = []
  for path, (current, new) in updated_pages().items():
    if new != current:
      stale.append(os.path.relpath(path, REPO))
      if not check:
        with open(path, 'w', encoding='utf-8') as f:
          f.write(new)
  if check and stale:
    print('out of date (run python docs/update_docs.py): ' + ', '.join(stale))
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
