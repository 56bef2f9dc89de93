"""Files the package ships, found with ``importlib.resources`` (never relative to a checkout).

- ``beam_pipelines.templates``: each Flex Template's metadata.json, sample_parameters.json
  and Dockerfile (the repository folder ``templates/``);
- ``beam_pipelines.samples``: sample events, their schema, a masking policy, quality rules,
  a lookup table, an erase list (``samples/``);
- ``beam_pipelines.examples``: example pipelines, e.g. the Beam YAML one (``examples/``).

The same names work from a wheel and from an editable install of the repository. Beam reads
files by path, so these functions return paths: pip installs a wheel unpacked, and a
package that is not on disk (imported from a zip) is refused with a clear error.

``copy_samples(dest)`` copies the samples, the examples and the templates' sample parameters
into ``dest`` so that their relative paths (``samples/events.jsonl``) work from there.
"""

import importlib.resources
import os
import shutil

TEMPLATES = 'beam_pipelines.templates'
SAMPLES = 'beam_pipelines.samples'
EXAMPLES = 'beam_pipelines.examples'
# Sample parameter values that name a shipped sample file start with this.
SAMPLES_PREFIX = 'samples/'


class ResourceError(FileNotFoundError):
  """A shipped file is missing, or the package is not installed on disk."""


def _folder(package):
  root = importlib.resources.files(package)
  try:
    path = os.fspath(root)  # a pathlib.Path for a package on disk
  except TypeError:
    raise ResourceError(f'{package} is not installed as files on disk ({root!r}); install '
                        'beam-pipelines with pip (it unpacks the wheel)') from None
  return path


def _file(package, *parts):
  path = os.path.join(_folder(package), *parts)
  if not os.path.isfile(path):
    raise ResourceError(f'{"/".join(parts)} is not among the files of {package} '
                        f'({_folder(package)})')
  return path


def templates_dir():
  return _folder(TEMPLATES)


def template_names():
  """The templates shipped: folders holding a metadata.json."""
  root = templates_dir()
  return sorted(d for d in os.listdir(root)
                if os.path.isfile(os.path.join(root, d, 'metadata.json')))


def template_file(template, name):
  """The path of ``name`` (metadata.json, sample_parameters.json...) of ``template``."""
  return _file(TEMPLATES, template, name)


def samples_dir():
  return _folder(SAMPLES)


def sample(name):
  """The path of a shipped sample file, e.g. ``sample('events.jsonl')``."""
  return _file(SAMPLES, name)


def examples_dir():
  return _folder(EXAMPLES)


def example(name):
  """The path of a shipped example, e.g. ``example('pipeline.yaml')``."""
  return _file(EXAMPLES, name)


def resolve_sample_paths(parameters):
  """Sample parameters with every ``samples/<file>`` value pointing at the shipped file."""
  resolved = {}
  for name, value in parameters.items():
    if isinstance(value, str) and value.startswith(SAMPLES_PREFIX):
      value = sample(value[len(SAMPLES_PREFIX):])
    resolved[name] = value
  return resolved


def _data_files(folder):
  """Data files under ``folder``, as paths relative to it (sub-folders included: cdc/...)."""
  found = []
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if d != '__pycache__')
    for name in files:
      if name != '__init__.py' and not name.endswith('.pyc'):
        found.append(os.path.relpath(os.path.join(root, name), folder))
  return sorted(found)


def copy_samples(dest):
  """Copies samples/, examples/ and templates/<t>/sample_parameters.json into ``dest``;
  returns the paths written. Existing files are overwritten."""
  written = []
  for package, sub in ((SAMPLES, 'samples'), (EXAMPLES, 'examples')):
    source = _folder(package)
    os.makedirs(os.path.join(dest, sub), exist_ok=True)
    for name in _data_files(source):
      target = os.path.join(dest, sub, name)
      os.makedirs(os.path.dirname(target), exist_ok=True)
      written.append(shutil.copyfile(os.path.join(source, name), target))
  for template in template_names():
    os.makedirs(os.path.join(dest, 'templates', template), exist_ok=True)
    written.append(shutil.copyfile(template_file(template, 'sample_parameters.json'),
                                   os.path.join(dest, 'templates', template,
                                                'sample_parameters.json')))
  return written
