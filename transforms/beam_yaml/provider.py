"""The Beam YAML provider: transform names in YAML -> the constructors in this package.

The same mapping ships as ``provider.yaml`` beside this module; a YAML pipeline includes it
with ``providers: [{include: <path>}]`` (``provider_path()``, or ``python -m
beam_pipelines.yaml_provider --print-path``). A test checks the file and ``PROVIDER_SPEC``
agree.
"""

import importlib.resources

# transform name in YAML -> importable constructor (for ``providers: - type: python``).
PROVIDER_TRANSFORMS = {
    'ReadEvents': 'beam_pipelines.transforms.beam_yaml.ReadEventsFromFiles',
    'ParseAndValidate': 'beam_pipelines.transforms.beam_yaml.ParseAndValidateRows',
    'SchemaDrift': 'beam_pipelines.transforms.beam_yaml.HandleSchemaDriftRows',
    'MaskPII': 'beam_pipelines.transforms.beam_yaml.MaskRows',
    'Enrich': 'beam_pipelines.transforms.beam_yaml.EnrichRows',
    'CheckQuality': 'beam_pipelines.transforms.beam_yaml.CheckQualityRows',
    'WriteRowsToBigQuery': 'beam_pipelines.transforms.beam_yaml.WriteRowsToBigQueryTable',
    'WriteRowsToFiles': 'beam_pipelines.transforms.beam_yaml.WriteRowsToLake',
    'MaskDeadLetters': 'beam_pipelines.transforms.beam_yaml.MaskDeadLetterRecords',
    'WriteDeadLetters': 'beam_pipelines.transforms.beam_yaml.WriteDeadLetterRecords',
    'ToJsonLines': 'beam_pipelines.transforms.beam_yaml.ToJsonLines',
    'WindowAndAggregate': 'beam_pipelines.transforms.beam_yaml.WindowAndAggregateRows',
    'ToBeamRows': 'beam_pipelines.transforms.beam_yaml.ToBeamRowsYaml',
}
PROVIDER_SPEC = {'type': 'python', 'transforms': dict(PROVIDER_TRANSFORMS)}


def provider_path():
  """The path of ``provider.yaml``, the provider file a YAML pipeline includes."""
  return str(importlib.resources.files('beam_pipelines.transforms.beam_yaml') / 'provider.yaml')
