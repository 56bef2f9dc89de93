"""The suite's transforms for Beam YAML: constructors that take plain config values.

Beam YAML's inline Python provider (``providers: - type: python`` without ``packages``)
maps transform names to importable callables and calls them with the YAML ``config`` as
keyword arguments (strings, numbers, lists, mappings). These wrappers turn that config into
our typed configs (the same validation as the command line: ``ValueError`` naming the bad
setting, raised while the YAML pipeline is built) and return our composite transforms.

Elements: rows are dicts in BigQuery JSON form between our transforms; every transform also
accepts Beam Rows (``beam.Row``, what YAML's built-ins such as ``ReadFromText``/``Create``
emit) and converts them. ``ParseAndValidate`` accepts our RawMessages (from ``ReadEvents``,
with exact ``file:line`` source ids) or rows with a ``line`` field (``ReadFromText``).
``ToJsonLines`` turns rows or dead letters into ``Row(line=...)`` for YAML's ``WriteToText``.

Fallible transforms have named outputs, referenced in YAML as ``Step.rows`` and
``Step.dead_letters`` (``CheckQuality`` also ``Step.scores``); flatten the dead letters of
every step with YAML's ``Flatten`` into ``WriteDeadLetters``.

The provider spec to paste into a YAML pipeline is ``PROVIDER_SPEC`` (see
``examples/pipeline.yaml`` and docs/yaml.md).
"""

from beam_pipelines.transforms.beam_yaml.mask_enrich import (CheckQualityRows, EnrichRows, MaskDeadLetterRecords,
                                              MaskRows)
from beam_pipelines.transforms.beam_yaml.provider import (PROVIDER_SPEC, PROVIDER_TRANSFORMS,
                                                          provider_path)
from beam_pipelines.transforms.beam_yaml.read_validate import (HandleSchemaDriftRows, ParseAndValidateRows,
                                                ReadEventsFromFiles)
from beam_pipelines.transforms.beam_yaml.windowing import ToBeamRowsYaml, WindowAndAggregateRows
from beam_pipelines.transforms.beam_yaml.write import (ToJsonLines, WriteDeadLetterRecords,
                                                       WriteRowsToBigQueryTable, WriteRowsToLake)

__all__ = ['CheckQualityRows', 'EnrichRows', 'HandleSchemaDriftRows', 'MaskDeadLetterRecords',
           'MaskRows', 'PROVIDER_SPEC', 'PROVIDER_TRANSFORMS', 'ParseAndValidateRows',
           'ReadEventsFromFiles', 'ToBeamRowsYaml', 'ToJsonLines', 'WindowAndAggregateRows',
           'WriteDeadLetterRecords', 'WriteRowsToBigQueryTable', 'WriteRowsToLake',
           'provider_path']
