"""The docs point at things that exist: links, headings, commands, files, modules, examples.

Checked in README.md, docs/*.md and templates/*/README.md:
- every relative link points at an existing file, and a ``#anchor`` at an existing heading
  (GitHub's anchor rules);
- every ``python -m X`` names a runnable module of this repository (or a known third-party
  one), every ``python path/to/script.py`` an existing file, every ``make T`` a Makefile target;
- every repository path and every ``transforms.*`` / ``beam_pipelines.*`` name in code exists
  (so a page cannot keep naming a module of the old layout; only docs/layout.md lists those);
- the generated tables (docs/update_docs.py) are current, the deprecated-path table of
  docs/layout.md equals ``beam_pipelines.transforms.compat.MOVED``, and the examples the docs
  show are the files the tests run.
"""

import dataclasses
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import beam_pipelines.transforms as transforms
from beam_pipelines.transforms import (beam_patches, compat, load_policy, load_quality_rules,
                                       load_schema)

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted(['README.md'] + [str(p.relative_to(REPO)) for p in (REPO / 'docs').glob('*.md')]
              + [str(p.relative_to(REPO)) for p in (REPO / 'templates').glob('*/README.md')])
THIRD_PARTY_MODULES = {'pytest', 'pip', 'venv', 'apache_beam.yaml.main'}
PATH_ROOTS = ('transforms/', 'beam_pipelines/', 'tests/', 'bench/', 'samples/', 'templates/',
              'examples/', 'docs/')
FENCE = re.compile(r'^```.*?^```[ \t]*$', re.DOTALL | re.MULTILINE)


def read(path):
  """A file's text; ``path`` relative to the repository, or absolute."""
  return (REPO / path).read_text(encoding='utf-8')


def prose(text):
  """The text without fenced code blocks (links and headings live outside them)."""
  return FENCE.sub('', text)


def code(text):
  """Every code span and fenced code block of the text."""
  fenced = [m.group(0) for m in FENCE.finditer(text)]
  spans = re.findall(r'`([^`\n]+)`', FENCE.sub('', text))
  return fenced + spans


def slug(heading):
  """GitHub's anchor for a heading: inline markup dropped, lower case, punctuation other than
  '-' and '_' removed, each space a '-'."""
  text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # [text](link) -> text
  text = text.replace('`', '').strip().lower()
  text = re.sub(r'[^\w\- ]', '', text)
  return text.replace(' ', '-')


def anchors(path):
  seen = {}
  result = set()
  for heading in re.findall(r'^#{1,6} +(.+?) *#* *$', prose(read(path)), re.MULTILINE):
    base = slug(heading)
    count = seen.get(base, 0)
    seen[base] = count + 1
    result.add(base if count == 0 else f'{base}-{count}')
  return result


def links(path):
  return re.findall(r'!?\[[^\]]*\]\(([^)\s]+)\)', prose(read(path)))


def broken_links(path):
  broken = []
  for target in links(path):
    if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto: ...
      continue
    file_part, _, anchor = target.partition('#')
    resolved = ((REPO / path).parent / file_part if file_part else REPO / path).resolve()
    if not resolved.exists():
      broken.append(f'{target}: no such file')
    elif anchor and resolved.suffix == '.md' and anchor not in anchors(resolved):
      broken.append(f'{target}: no heading with that anchor')
  return broken


def test_slug_follows_githubs_rules():
  assert slug('The flagship pipeline: `files_to_bigquery`') == \
      'the-flagship-pipeline-files_to_bigquery'
  assert slug('Lake sink (`--output_path`)') == 'lake-sink---output_path'
  assert slug('Late data: what is guaranteed') == 'late-data-what-is-guaranteed'
  assert slug('Validation rules (BigQuery types)') == 'validation-rules-bigquery-types'


@pytest.mark.parametrize('path', DOCS)
def test_every_relative_link_points_at_an_existing_file_and_heading(path):
  assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_reported(tmp_path):
  (tmp_path / 'other.md').write_text('# Other page\n\n## A `code` heading\n', encoding='utf-8')
  page = tmp_path / 'probe.md'
  page.write_text('# Probe\n\n[a](other.md) [b](no_such_page.md) [c](other.md#a-code-heading)'
                  ' [d](other.md#no-such-heading) [e](#probe) [f](#nope) [g](https://x.org/y)\n'
                  '```\n[not a link](inside_code.md)\n```\n', encoding='utf-8')
  assert broken_links(page) == [
      'no_such_page.md: no such file', 'other.md#no-such-heading: no heading with that anchor',
      '#nope: no heading with that anchor']


def makefile_targets():
  targets = set()
  for line in read('Makefile').splitlines():
    match = re.match(r'^([A-Za-z0-9_.-]+(?: +[A-Za-z0-9_.-]+)*) *:(?!=)', line)
    if match and not line.startswith('.'):
      targets.update(match.group(1).split())
  return targets


def commands(path):
  """(kind, name) for every ``python -m``, ``python script.py`` and ``make`` in code."""
  found = []
  for block in code(read(path)):
    for module in re.findall(r'\bpython3?\s+-m\s+([\w.]+)', block):
      found.append(('module', module))
    for script in re.findall(r'\bpython3?\s+([\w./-]+\.py)\b', block):
      found.append(('script', script))
    for line in block.splitlines():
      for rest in re.findall(r'(?:^|[\s;&|(`])make\s+(.*)', line):
        words = [w for w in rest.split() if '=' not in w and not w.startswith('-')]
        if words and re.match(r'^[a-z][\w-]*$', words[0]):
          found.append(('make', words[0]))
  return found


def runnable(module):
  """Whether ``python -m module`` can run: a module of this repository (or a known
  third-party one), or a package with a ``__main__``."""
  if module not in THIRD_PARTY_MODULES and not module.startswith(('transforms', 'beam_pipelines')):
    return False
  try:
    spec = importlib.util.find_spec(module)
  except ImportError:
    return False
  if spec is None or spec.origin is None:  # a compat alias of an old import path has no origin
    return False
  if module in THIRD_PARTY_MODULES:
    return True
  if not Path(spec.origin).resolve().is_relative_to(REPO):
    return False
  return spec.submodule_search_locations is None or runnable(module + '.__main__')


@pytest.mark.parametrize('path', DOCS)
def test_every_command_named_exists(path):
  targets = makefile_targets()
  missing = []
  for kind, name in commands(path):
    if kind == 'module' and not runnable(name):
      missing.append(f'python -m {name}')
    if kind == 'script' and not (REPO / name).is_file():
      missing.append(f'python {name}')
    if kind == 'make' and name not in targets:
      missing.append(f'make {name}')
  assert missing == []


def test_the_command_checks_can_fail():
  assert {'run', 'test', 'template-local', 'install'} <= makefile_targets()
  assert 'nonexistent-target' not in makefile_targets()
  assert runnable('beam_pipelines.tools.launch') and runnable('pytest')
  assert not runnable('beam_pipelines.no_such_tool')
  assert not runnable('transforms.aggregates')  # an old path: only a compat alias
  assert not runnable('beam_pipelines.transforms.windowing')  # a package without __main__
  assert commands('docs/templates.md').count(('make', 'template-local')) >= 1


def repo_paths(path):
  paths = set()
  for block in code(read(path)):
    for match in re.findall(r'(?<![\w./-])((?:' + '|'.join(PATH_ROOTS) + r')[\w./-]*)', block):
      if not re.search(r'[*<>]|\.\.\.|\.$', match):
        paths.add(match.rstrip('/'))
  return paths


def dotted_names(path):
  names = set()
  for block in code(read(path)):
    names.update(re.findall(r'\b((?:transforms|beam_pipelines)(?:\.\w+)+)', block))
  return names


def resolves(dotted):
  """A module of this repository (not a compat alias), or a name in one."""
  parts = dotted.split('.')
  for i in range(len(parts), 0, -1):
    module = '.'.join(parts[:i])
    try:
      spec = importlib.util.find_spec(module)
    except ImportError:
      spec = None
    if spec is None or spec.origin is None:
      continue
    value = importlib.import_module(module)
    for attribute in parts[i:]:
      value = getattr(value, attribute, None)
      # A module reached as an attribute is one find_spec did not accept: a compat alias.
      if value is None or isinstance(value, types.ModuleType):
        return False
    return True
  return False


@pytest.mark.parametrize('path', DOCS)
def test_every_repository_path_and_module_named_exists(path):
  missing = [p for p in sorted(repo_paths(path)) if not (REPO / p).exists()]
  if path != 'docs/layout.md':  # the one page that lists the deprecated paths
    missing += [n for n in sorted(dotted_names(path)) if not resolves(n)]
  assert missing == []


def test_the_name_checks_can_fail():
  assert resolves('beam_pipelines.transforms.beam_patches.enable')
  assert resolves('beam_pipelines.runtime.summary.PeriodicSummary')
  assert not resolves('transforms.pubsub_source.set_direct_runner_pull_timeout')  # 0.1 path
  assert not resolves('beam_pipelines.transforms.windowing.NoSuchName')
  assert 'transforms/windowing/late_data.py' in repo_paths('docs/windowing.md')


def test_generated_tables_are_current():
  done = subprocess.run([sys.executable, os.fspath(REPO / 'docs' / 'update_docs.py'), '--check'],
                        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
  assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def generated_block(path, name):
  match = re.search(r'<!-- generated:' + name + r' -->\n(.*?)<!-- /generated:' + name + ' -->',
                    read(path), re.DOTALL)
  assert match, f'{path} has no generated:{name} block'
  return match.group(1)


def test_the_deprecated_path_table_equals_compat_moved():
  rows = re.findall(r'^\| `([\w.]+)` \| (.+) \|$', generated_block('docs/layout.md',
                                                                   'moved-modules'), re.MULTILINE)
  table = {old: tuple(re.findall(r'`([\w.]+)`', new)) for old, new in rows}
  assert table == {old: tuple(f'{compat.NEW_ROOT}.{n}' for n in new)
                   for old, new in compat.MOVED.items()}


def test_the_moved_names_listed_still_import_from_their_old_module():
  rows = re.findall(r'^\| `([\w.]+)` \| `([\w.]+)` \|$',
                    generated_block('docs/layout.md', 'moved-names'), re.MULTILINE)
  assert rows
  for old, new_module in rows:
    module, name = old.rsplit('.', 1)
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', DeprecationWarning)
      value = getattr(importlib.import_module(module), name)
    assert value is getattr(importlib.import_module(new_module), name), old


def test_the_deprecated_commands_listed_run_and_point_at_their_new_module():
  rows = re.findall(r'^\| `python -m ([\w.]+)` \| `python -m ([\w.]+)` \|$',
                    generated_block('docs/layout.md', 'module-aliases'), re.MULTILINE)
  assert {old for old, _ in rows} >= {'beam_pipelines.launch', 'beam_pipelines.local_emulators',
                                      'beam_pipelines.demo', 'beam_pipelines.streaming_demo'}
  for old, new in rows:
    assert runnable(old) and runnable(new)
    assert f'``{new}``' in (REPO / (old.replace('.', '/') + '.py')).read_text(encoding='utf-8')


def test_the_beam_patches_page_lists_every_patch_and_who_switches_it_on():
  from beam_pipelines.runtime import cli  # pylint: disable=import-outside-toplevel
  page = read('docs/beam_patches.md')
  table = generated_block('docs/beam_patches.md', 'beam-patches')
  assert re.findall(r'^\| `(\w+)` \|', table, re.MULTILINE) == list(beam_patches.ALL)
  who = page.split('## Who switches them on', 1)[1].split('\n## ', 1)[0]
  batch, streaming = who.split('`pubsub_to_bigquery`', 1)
  assert set(re.findall(r'`(\w+)`', batch)) >= set(cli.BATCH_PATCHES)
  assert set(re.findall(r'`(\w+)`', streaming)) >= set(cli.STREAMING_PATCHES) - set(
      cli.BATCH_PATCHES)


def tree_entries():
  """Paths the tree of docs/layout.md names (a line's first word; deeper indent = inside)."""
  block = re.search(r'## The tree\n\n```\n(.*?)```', read('docs/layout.md'), re.DOTALL).group(1)
  stack, paths = [], []
  for line in block.splitlines():
    match = re.match(r'^( *)(\S+)', line)
    if not match or len(match.group(1)) >= 20:  # a continuation of the line above
      continue
    depth = len(match.group(1)) // 2
    stack[depth:] = [match.group(2)]
    paths.append(''.join(stack))
  return paths


def test_the_layout_tree_names_existing_paths_and_every_package():
  entries = tree_entries()
  assert 'transforms/beam_patches/' in entries and 'beam_pipelines/chain.py' in entries
  named = [e for e in entries if '<' not in e and e != 'setup.py']
  missing = [e for e in named if not (REPO / e.rstrip('/')).exists()]
  packages = sorted(f'{p.parent.relative_to(REPO)}/' for root in ('transforms', 'beam_pipelines')
                    for p in (REPO / root).rglob('__init__.py'))
  unlisted = [p for p in packages if p not in entries]
  assert (missing, unlisted) == ([], [])


def example_files(path):
  """(file, code block) for every ``<!-- example-file:PATH -->`` marker."""
  return re.findall(r'<!-- example-file:(\S+) -->\n```\w*\n(.*?)```', read(path), re.DOTALL)


def test_examples_shown_are_the_files_the_tests_run():
  shown = [pair for path in DOCS for pair in example_files(path)]
  assert sorted(file for file, _ in shown) == ['examples/compose_pipeline.py',
                                               'examples/compose_pipeline.yaml',
                                               'examples/pipeline.yaml']
  for file, block in shown:
    assert block == read(file), file


def test_the_quality_rules_example_is_the_sample_file(tmp_path):
  block = re.search(r'```yaml\n(# samples/quality_rules.yaml.*?)```', read('docs/quality.md'),
                    re.DOTALL).group(1)
  rules_file = tmp_path / 'quality_rules.yaml'
  rules_file.write_text(block, encoding='utf-8')
  schema = load_schema(os.fspath(REPO / 'samples' / 'events_schema.json'))
  shown = load_quality_rules(os.fspath(rules_file), schema)
  sample = load_quality_rules(os.fspath(REPO / 'samples' / 'quality_rules.yaml'), schema)
  assert dataclasses.replace(shown, source=sample.source) == sample


def test_the_masking_policy_example_is_a_valid_policy(tmp_path):
  block = re.search(r'```yaml\n(version: 1.*?)```', read('docs/gdpr.md'), re.DOTALL).group(1)
  policy_file = tmp_path / 'policy.yaml'
  policy_file.write_text(block, encoding='utf-8')
  assert load_policy(os.fspath(policy_file))


def test_the_compose_page_lists_the_whole_public_api():
  page = read('docs/compose.md')
  assert [n for n in transforms.__all__ if f'`{n}`' not in page] == []


def test_readme_is_the_front_page():
  readme = read('README.md')
  assert 100 <= len(readme.splitlines()) <= 250
  assert 'make run' in readme and 'make test' in readme
  pages = sorted(p.name for p in (REPO / 'docs').glob('*.md'))
  assert [p for p in pages if f'(docs/{p})' not in readme] == []
  assert '<!-- compose-snippet:front -->' in readme
  for pipeline in ('files_to_bigquery', 'pubsub_to_bigquery', 'replay_dead_letters', 'forget',
                   'tools.launch'):
    assert f'python -m beam_pipelines.{pipeline}' in readme


def test_the_late_data_section_is_one_delimited_section_of_the_windowing_page():
  page = read('docs/windowing.md')
  assert page.count('\n## Late data: what is guaranteed\n') == 1
  section = page.split('<!-- late-data-section:begin -->', 1)[1]
  assert section.startswith('\n## Late data: what is guaranteed\n')
  assert '<!-- late-data-section:end -->' in section
