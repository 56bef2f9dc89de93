"""Deprecated import paths of the flat layout (before 0.2), kept working for one release.

The library was 35 flat modules; they now live in subpackages by concern. Each old module
path below still imports: it is a thin module made on first import that re-exports the public
names of the modules its code moved to, with one ``DeprecationWarning`` naming the new place.
``MOVED`` is the whole list (docs/layout.md shows it as a table). Two old modules that still
exist lost some names to new neighbours; those names are forwarded by ``moved_names``.

The library's import name was ``transforms`` in 0.1 and is ``beam_pipelines.transforms`` now
(a project's own ``transforms.py`` no longer shadows it). ``import transforms`` still works for
one release: it is the same package, and ``transforms.X`` is the module
``beam_pipelines.transforms.X`` itself. The alias finder is installed by the package's
``__init__``; it answers only for ``transforms.*`` names, and only while ``transforms`` is this
alias: a project's own package named ``transforms`` keeps its submodules.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import threading
import warnings

NEW_ROOT = 'beam_pipelines.transforms'
OLD_ROOT = 'transforms'  # the top-level import name of 0.1, now an alias of NEW_ROOT
# Set on the alias package: a project's own package named `transforms` lacks it, and the
# alias finder leaves its submodules (transforms.core, transforms.read...) to it.
ALIAS_MARK = '__beam_pipelines_alias__'
# old module -> the modules its public names now live in, under beam_pipelines.transforms
# (searched in this order)
MOVED = {
    'transforms.aggregates': ('windowing.aggregates',),
    'transforms.beam_speedups': ('beam_patches.global_window',),
    'transforms.bigquery_endpoint': ('core.bigquery_client',),
    'transforms.bigquery_retry_budget': ('write.retry_budget',),
    'transforms.bq_types': ('validate.bq_types', 'validate.bq_temporal', 'validate.field_error'),
    'transforms.csv_format': ('read.formats.csv_format',),
    'transforms.dead_letters': ('write.dead_letters',),
    'transforms.decoders': ('read.formats.registry', 'read.formats.base', 'read.formats.jsonl',
                            'read.formats.csv_format', 'read.formats.avro'),
    'transforms.enrichment_config': ('enrichment.config',),
    'transforms.enrichment_join': ('enrichment.join',),
    'transforms.enrichment_sources': ('enrichment.sources',),
    'transforms.enrichment_sources.base': ('enrichment.sources.base',),
    'transforms.enrichment_sources.bigquery': ('enrichment.sources.bigquery',),
    'transforms.enrichment_sources.file': ('enrichment.sources.file',),
    'transforms.errors': ('core.dead_letter',),
    'transforms.file_readers': ('read.formats.base', 'read.formats.jsonl',
                                'read.formats.csv_reader'),
    'transforms.file_sources': ('read.files',),
    'transforms.file_splits': ('read.file_splits',),
    'transforms.lake_sink': ('write.lake',),
    'transforms.lake_types': ('write.lake_types',),
    'transforms.lineage': ('core.lineage',),
    'transforms.masking.common': ('masking.methods.common',),
    'transforms.masking.csv_payload': ('read.formats.csv_payload',),
    'transforms.masking.drop': ('masking.methods.drop',),
    'transforms.masking.generalize': ('masking.methods.generalize',),
    'transforms.masking.hmac': ('masking.methods.hmac',),
    'transforms.masking.keep': ('masking.methods.keep',),
    'transforms.masking.partial': ('masking.methods.partial',),
    'transforms.masking.redact': ('masking.methods.redact',),
    'transforms.masking.tokenize': ('masking.methods.tokenize',),
    'transforms.masking.transform': ('masking.mask_rows', 'masking.mask_dead_letters',
                                     'masking.step_support'),
    'transforms.messages': ('core.messages',),
    'transforms.parse': ('validate.parse',),
    'transforms.pubsub_direct_pull': ('beam_patches.direct_runner_pubsub_pull',),
    'transforms.pubsub_publish': ('write.pubsub',),
    'transforms.pubsub_source': ('read.pubsub',),
    'transforms.record_json': ('read.formats.record_json',),
    'transforms.schema': ('core.schema',),
    'transforms.schema_drift': ('validate.schema_drift', 'validate.drift_inference',
                                'validate.table_evolution'),
    'transforms.sinks': ('write.bigquery', 'core.table_spec'),
    'transforms.sources': ('read.events', 'read.files'),
    'transforms.typed_file_readers': ('read.formats.avro', 'read.formats.parquet'),
    'transforms.window_batch': ('windowing.event_time', 'windowing.batch'),
    'transforms.wkt': ('validate.geography',),
    'transforms.yaml_provider': ('beam_yaml.provider', 'beam_yaml.elements',
                                 'beam_yaml.read_validate', 'beam_yaml.mask_enrich',
                                 'beam_yaml.write'),
}


def _legacy_patch_call(patch, then=None):
  """An old function that switched a Beam patch on as a side effect: it still does, once."""
  def call(*args, **kwargs):
    from beam_pipelines.transforms import beam_patches
    beam_patches.enable(patch)
    return then(*args, **kwargs) if then is not None else None
  return call


def _legacy_functions(old):
  """Old functions whose behaviour moved into an explicit Beam patch switch."""
  if old == 'transforms.pubsub_source':
    from beam_pipelines.transforms.beam_patches import direct_runner_pubsub_pull as pull
    return {'set_direct_runner_pull_timeout': _legacy_patch_call(
        'direct_runner_pubsub_pull', pull.set_direct_runner_pull_timeout),
            'set_direct_runner_pull_grace': _legacy_patch_call(
                'direct_runner_pubsub_pull', pull.set_direct_runner_pull_grace)}
  if old == 'transforms.bigquery_endpoint':
    from beam_pipelines.transforms.core.bigquery_client import emulator_host
    return {'apply_emulator_endpoint': _legacy_patch_call('bigquery_emulator', emulator_host)}
  if old == 'transforms.bigquery_retry_budget':
    return {'apply_retry_budget': _legacy_patch_call('bigquery_retry_budget')}
  return {}


def _public_names(module):
  names = getattr(module, '__all__', None)
  if names is None:
    names = [n for n in vars(module) if not n.startswith('_')]
  return names


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Answers for ``transforms.*`` only: an old flat module of ``MOVED`` is made as a thin
  re-export; any other ``transforms.X`` is the module ``beam_pipelines.transforms.X`` itself
  (the same object, so classes and isinstance checks are shared)."""

  def find_spec(self, fullname, path=None, target=None):
    if not fullname.startswith(OLD_ROOT + '.'):
      return None
    if not getattr(sys.modules.get(OLD_ROOT), ALIAS_MARK, False):
      return None  # `transforms` is a package of the user's own: its submodules are theirs
    if fullname not in MOVED and importlib.util.find_spec(_new_name(fullname)) is None:
      return None
    spec = importlib.util.spec_from_loader(fullname, self)
    if any(other.startswith(fullname + '.') for other in MOVED):
      spec.submodule_search_locations = []  # a package: its old submodules are aliases too
    return spec

  def create_module(self, spec):
    if spec.name in MOVED:
      return None  # a fresh module, filled by exec_module
    return importlib.import_module(_new_name(spec.name))

  def exec_module(self, module):
    if module.__name__ != OLD_ROOT and not module.__name__.startswith(OLD_ROOT + '.'):
      return  # the real module, aliased: nothing to run
    old = module.__name__
    targets = [NEW_ROOT + '.' + t for t in MOVED[old]]
    warnings.warn(f'{old} is deprecated since 0.2 and goes in the next release: import from '
                  f'{" / ".join(targets)} (or the package root, {NEW_ROOT})',
                  DeprecationWarning, stacklevel=2)
    exported = []
    for target in targets:
      new = importlib.import_module(target)
      for name in _public_names(new):
        if name not in module.__dict__ and not isinstance(getattr(new, name, None),
                                                          type(sys)):
          setattr(module, name, getattr(new, name))
          exported.append(name)
    for name, function in _legacy_functions(old).items():
      setattr(module, name, function)
      exported.append(name)
    module.__all__ = exported


def _new_name(old_name):
  return NEW_ROOT + old_name[len(OLD_ROOT):]


_INSTALL_LOCK = threading.Lock()


def install():
  """Puts the alias finder first on ``sys.meta_path`` (idempotent). It answers only for
  ``transforms.*`` names, which no real module has since 0.2."""
  with _INSTALL_LOCK:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
      sys.meta_path.insert(0, _AliasFinder())


def deprecated_top_level(namespace):
  """Called by the package ``__init__`` when it is imported as ``transforms`` (the name of
  0.1): one DeprecationWarning, and submodules resolve through the alias finder to the real
  ``beam_pipelines.transforms`` modules instead of being loaded a second time."""
  namespace['__path__'] = []
  namespace[ALIAS_MARK] = True  # the alias finder answers for submodules of this one only
  warnings.warn(f'the import name {OLD_ROOT!r} is deprecated since 0.2 and goes in the next '
                f'release: import from {NEW_ROOT!r}', DeprecationWarning, stacklevel=3)


def moved_names(module_name, moved):
  """A module ``__getattr__`` forwarding names that moved to other modules, warning once per
  name: ``moved`` maps each name to its new module."""
  warned = set()

  def __getattr__(name):
    target = moved.get(name)
    if target is None:
      raise AttributeError(f'module {module_name!r} has no attribute {name!r}')
    if name not in warned:
      warned.add(name)
      warnings.warn(f'{module_name}.{name} moved to {target}.{name} in 0.2; the old name goes '
                    'in the next release', DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(target), name)
  return __getattr__
