"""Deprecated import paths of the flat layout (before 0.2), kept working for one release.

``transforms`` was 35 flat modules; they now live in subpackages by concern. Each old module
path below still imports: it is a thin module made on first import that re-exports the public
names of the modules its code moved to, with one ``DeprecationWarning`` naming the new place.
``MOVED`` is the whole list (docs/layout.md shows it as a table). Two old modules that still
exist lost some names to new neighbours; those names are forwarded by ``moved_names``.

Installed by ``transforms/__init__.py``; it only answers for the names in ``MOVED``, after
every ordinary import mechanism has failed, so it never shadows a real module.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import threading
import warnings

# old module -> the modules its public names now live in (searched in this order)
MOVED = {
    'transforms.aggregates': ('transforms.windowing.aggregates',),
    'transforms.beam_speedups': ('transforms.beam_patches.global_window',),
    'transforms.bigquery_endpoint': ('transforms.core.bigquery_client',),
    'transforms.bigquery_retry_budget': ('transforms.write.retry_budget',),
    'transforms.bq_types': ('transforms.validate.bq_types', 'transforms.validate.bq_temporal',
                            'transforms.validate.field_error'),
    'transforms.csv_format': ('transforms.read.formats.csv_format',),
    'transforms.dead_letters': ('transforms.write.dead_letters',),
    'transforms.decoders': ('transforms.read.formats.registry', 'transforms.read.formats.base',
                            'transforms.read.formats.jsonl', 'transforms.read.formats.csv_format',
                            'transforms.read.formats.avro'),
    'transforms.enrichment_config': ('transforms.enrichment.config',),
    'transforms.enrichment_join': ('transforms.enrichment.join',),
    'transforms.enrichment_sources': ('transforms.enrichment.sources',),
    'transforms.enrichment_sources.base': ('transforms.enrichment.sources.base',),
    'transforms.enrichment_sources.bigquery': ('transforms.enrichment.sources.bigquery',),
    'transforms.enrichment_sources.file': ('transforms.enrichment.sources.file',),
    'transforms.errors': ('transforms.core.dead_letter',),
    'transforms.file_readers': ('transforms.read.formats.base', 'transforms.read.formats.jsonl',
                                'transforms.read.formats.csv_reader'),
    'transforms.file_sources': ('transforms.read.files',),
    'transforms.file_splits': ('transforms.read.file_splits',),
    'transforms.lake_sink': ('transforms.write.lake',),
    'transforms.lake_types': ('transforms.write.lake_types',),
    'transforms.lineage': ('transforms.core.lineage',),
    'transforms.masking.common': ('transforms.masking.methods.common',),
    'transforms.masking.csv_payload': ('transforms.read.formats.csv_payload',),
    'transforms.masking.drop': ('transforms.masking.methods.drop',),
    'transforms.masking.generalize': ('transforms.masking.methods.generalize',),
    'transforms.masking.hmac': ('transforms.masking.methods.hmac',),
    'transforms.masking.keep': ('transforms.masking.methods.keep',),
    'transforms.masking.partial': ('transforms.masking.methods.partial',),
    'transforms.masking.redact': ('transforms.masking.methods.redact',),
    'transforms.masking.tokenize': ('transforms.masking.methods.tokenize',),
    'transforms.masking.transform': ('transforms.masking.mask_rows',
                                     'transforms.masking.mask_dead_letters',
                                     'transforms.masking.step_support'),
    'transforms.messages': ('transforms.core.messages',),
    'transforms.parse': ('transforms.validate.parse',),
    'transforms.pubsub_direct_pull': ('transforms.beam_patches.direct_runner_pubsub_pull',),
    'transforms.pubsub_publish': ('transforms.write.pubsub',),
    'transforms.pubsub_source': ('transforms.read.pubsub',),
    'transforms.record_json': ('transforms.read.formats.record_json',),
    'transforms.schema': ('transforms.validate.schema',),
    'transforms.schema_drift': ('transforms.validate.schema_drift',
                                'transforms.validate.drift_inference',
                                'transforms.validate.table_evolution'),
    'transforms.sinks': ('transforms.write.bigquery', 'transforms.core.table_spec'),
    'transforms.sources': ('transforms.read.events', 'transforms.read.files'),
    'transforms.typed_file_readers': ('transforms.read.formats.avro',
                                      'transforms.read.formats.parquet'),
    'transforms.window_batch': ('transforms.windowing.event_time', 'transforms.windowing.batch'),
    'transforms.wkt': ('transforms.validate.geography',),
    'transforms.yaml_provider': ('transforms.beam_yaml.provider', 'transforms.beam_yaml.elements',
                                 'transforms.beam_yaml.read_validate',
                                 'transforms.beam_yaml.mask_enrich', 'transforms.beam_yaml.write'),
}


def _legacy_patch_call(patch, then=None):
  """An old function that switched a Beam patch on as a side effect: it still does, once."""
  def call(*args, **kwargs):
    from transforms import beam_patches
    beam_patches.enable(patch)
    return then(*args, **kwargs) if then is not None else None
  return call


def _legacy_functions(old):
  """Old functions whose behaviour moved into an explicit Beam patch switch."""
  if old == 'transforms.pubsub_source':
    from transforms.beam_patches import direct_runner_pubsub_pull as pull
    return {'set_direct_runner_pull_timeout': _legacy_patch_call(
        'direct_runner_pubsub_pull', pull.set_direct_runner_pull_timeout),
            'set_direct_runner_pull_grace': _legacy_patch_call(
                'direct_runner_pubsub_pull', pull.set_direct_runner_pull_grace)}
  if old == 'transforms.bigquery_endpoint':
    from transforms.core.bigquery_client import emulator_host
    return {'apply_emulator_endpoint': _legacy_patch_call('bigquery_emulator', emulator_host)}
  if old == 'transforms.bigquery_retry_budget':
    return {'apply_retry_budget': _legacy_patch_call('bigquery_retry_budget')}
  return {}


def _public_names(module):
  names = getattr(module, '__all__', None)
  if names is None:
    names = [n for n in vars(module) if not n.startswith('_')]
  return names


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Makes the modules of ``MOVED`` on import (see the module docstring)."""

  def find_spec(self, fullname, path=None, target=None):
    if fullname not in MOVED:
      return None
    spec = importlib.util.spec_from_loader(fullname, self)
    if any(other.startswith(fullname + '.') for other in MOVED):
      spec.submodule_search_locations = []  # a package: its old submodules are aliases too
    return spec

  def create_module(self, spec):
    return None  # the default module object

  def exec_module(self, module):
    old = module.__name__
    targets = MOVED[old]
    warnings.warn(f'{old} is deprecated since 0.2 and goes in the next release: import from '
                  f'{" / ".join(targets)} (or the package root, transforms)',
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


_INSTALL_LOCK = threading.Lock()


def install():
  """Adds the finder to ``sys.meta_path`` (idempotent; last, so real modules always win)."""
  with _INSTALL_LOCK:
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
      sys.meta_path.append(_MovedModuleFinder())


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
