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
``examples/pipeline.yaml`` and the README).
"""

import hashlib
import json
from typing import Any, Mapping, Optional

import apache_beam as beam

from transforms.messages import RawMessage, raw_message

# transform name in YAML -> importable constructor (for ``providers: - type: python``).
PROVIDER_TRANSFORMS = {
    'ReadEvents': 'transforms.yaml_provider.ReadEventsFromFiles',
    'ParseAndValidate': 'transforms.yaml_provider.ParseAndValidateRows',
    'SchemaDrift': 'transforms.yaml_provider.HandleSchemaDriftRows',
    'MaskPII': 'transforms.yaml_provider.MaskRows',
    'Enrich': 'transforms.yaml_provider.EnrichRows',
    'CheckQuality': 'transforms.yaml_provider.CheckQualityRows',
    'WriteRowsToBigQuery': 'transforms.yaml_provider.WriteRowsToBigQueryTable',
    'WriteRowsToFiles': 'transforms.yaml_provider.WriteRowsToLake',
    'MaskDeadLetters': 'transforms.yaml_provider.MaskDeadLetterRecords',
    'WriteDeadLetters': 'transforms.yaml_provider.WriteDeadLetterRecords',
    'ToJsonLines': 'transforms.yaml_provider.ToJsonLines',
}
PROVIDER_SPEC = {'type': 'python', 'transforms': dict(PROVIDER_TRANSFORMS)}


def to_plain(value):
  """Beam Rows (nested too) -> dicts; lists/tuples -> lists; everything else as is."""
  if isinstance(value, beam.Row):
    return {k: to_plain(v) for k, v in value._asdict().items()}
  if isinstance(value, Mapping):
    return {k: to_plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)) and not isinstance(value, RawMessage):
    return [to_plain(v) for v in value]
  return value


def _to_message(element):
  if isinstance(element, RawMessage):
    return element
  if isinstance(element, (bytes, str)):
    line = element
  else:
    line = getattr(element, 'line', None)
    if line is None:  # a schema'd Row without a line: its fields are the record
      line = json.dumps(to_plain(element), ensure_ascii=False, default=str)
  data = line.encode('utf-8') if isinstance(line, str) else bytes(line)
  # No file position is known here: a content hash identifies the record.
  return raw_message(data, source_id='yaml:' + hashlib.sha1(data).hexdigest()[:16])


def _outputs(result):
  return {name: getattr(result, name) for name in result._fields}


class ReadEventsFromFiles(beam.PTransform):
  """Reads files into raw messages (``ReadEvents``): one per JSONL line, CSV record,
  Avro record or Parquet row, with a ``file:line`` source id.

  Args:
    path: a file path or glob (local or gs://).
    format: jsonl, csv, avro or parquet.
  Outputs ``rows`` (raw messages) and ``dead_letters`` (unreadable files).
  """

  def __init__(self, path: str, format: str = 'jsonl'):  # pylint: disable=redefined-builtin
    super().__init__()
    from transforms.sources import FileSourceConfig
    self._config = FileSourceConfig(pattern=path, format=format)

  def expand(self, pbegin):
    from transforms.sources import ReadEvents
    return _outputs(pbegin | ReadEvents(self._config))


ReadEventsFromFiles._yaml_requires_inputs = False  # pylint: disable=protected-access


def _parse_config(format, unknown_fields, coerce_types, pipeline_name, schema_drift=None):  # pylint: disable=redefined-builtin
  from transforms.parse import ParseConfig
  from transforms.schema_drift import drift_policy
  from transforms.validate import ValidationPolicy
  policy = ValidationPolicy(unknown_fields=unknown_fields, coerce_types=bool(coerce_types))
  if schema_drift:
    policy = drift_policy(policy, schema_drift)
  return ParseConfig(format=format, policy=policy, pipeline_name=pipeline_name)


class ParseAndValidateRows(beam.PTransform):
  """Decodes and validates records against a BigQuery table schema (``ParseAndValidate``).

  Args:
    schema: the table schema JSON file (``bq mk`` format).
    format: payload format: json, csv or avro.
    unknown_fields: ignore or dead_letter.
    coerce_types: accept "42"-style strings for numbers and booleans.
    schema_drift: unset, dead_letter or evolve: new fields become ``schema_drift`` dead
      letters (feed them to ``SchemaDrift``).
    pipeline_name: written to each dead letter.
  Outputs ``rows`` and ``dead_letters``.
  """

  def __init__(self, schema: str, format: str = 'json', unknown_fields: str = 'ignore',  # pylint: disable=redefined-builtin
               coerce_types: bool = False, schema_drift: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.parse import ParseAndValidate
    self._transform = ParseAndValidate(schema, _parse_config(
        format, unknown_fields, coerce_types, pipeline_name, schema_drift))

  def expand(self, pcoll):
    messages = pcoll | 'ToRawMessages' >> beam.Map(_to_message)
    return _outputs(messages | self._transform)


class HandleSchemaDriftRows(beam.PTransform):
  """Routes ``schema_drift`` dead letters of ``ParseAndValidate`` (``HandleSchemaDrift``).

  Args:
    schema: the same table schema file as ParseAndValidate.
    mode: dead_letter or evolve.
    table: the BigQuery table to add columns to (evolve).
    project: the project of a DATASET.TABLE spec.
    format: the payload format given to ParseAndValidate.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (evolved rows: flatten them with ParseAndValidate's rows) and
  ``dead_letters`` (all other dead letters, unchanged).
  """

  def __init__(self, schema: str, mode: str = 'dead_letter', table: Optional[str] = None,
               project: Optional[str] = None, format: str = 'json',  # pylint: disable=redefined-builtin
               pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.schema_drift import HandleSchemaDrift, SchemaDriftConfig
    parse = _parse_config(format, 'ignore', False, pipeline_name, mode)
    self._transform = HandleSchemaDrift(SchemaDriftConfig(mode=mode, table=table,
                                                          project=project),
                                        schema, parse, pipeline_name=pipeline_name)

  def expand(self, dead_letters):
    return _outputs(dead_letters | 'Plain' >> beam.Map(to_plain) | self._transform)


class MaskRows(beam.PTransform):
  """Masks PII in rows with a policy file (``MaskPII``).

  Args:
    policy: the masking policy file (YAML or JSON).
    schema: the input table schema file the policy is bound to.
    key_source: where the key is: env:VARIABLE, file:PATH or secret:... (never the key).
    subject_field: the subject id path (for an erase list).
    erase_list: a file of subject ids to suppress.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (masked) and ``dead_letters``.
  """

  def __init__(self, policy: str, schema: str, key_source: str,
               subject_field: Optional[str] = None, erase_list: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.masking import LoadEraseList, MaskingKey, MaskPII, bind_policy
    bound = bind_policy(policy, schema)
    self._erase_list = erase_list
    self._make = lambda erase: MaskPII(bound, bound.schema, MaskingKey.load(key_source),
                                       subject_field=subject_field, erase_ids=erase,
                                       pipeline_name=pipeline_name)
    self._load_erase = LoadEraseList
    self._make(None)  # validates the key and the settings now

  def expand(self, rows):
    erase = None
    if self._erase_list:
      erase = rows.pipeline | 'LoadEraseList' >> self._load_erase(self._erase_list)
    return _outputs(rows | 'Plain' >> beam.Map(to_plain) | self._make(erase))


class MaskDeadLetterRecords(beam.PTransform):
  """Masks the payloads of dead letters with the same policy (``MaskDeadLetters``).

  Args:
    policy: the masking policy file.
    schema: the input table schema file the policy is bound to.
    key_source: where the key is: env:VARIABLE, file:PATH or secret:...
    mode: mask, redact or drop.
  Output: the masked dead letters.
  """

  def __init__(self, policy: str, schema: str, key_source: str, mode: str = 'mask'):
    super().__init__()
    from transforms.masking import MaskDeadLetters, MaskingKey, bind_policy
    bound = bind_policy(policy, schema)
    self._transform = MaskDeadLetters(bound, bound.schema, MaskingKey.load(key_source),
                                      mode=mode)

  def expand(self, dead_letters):
    return dead_letters | 'Plain' >> beam.Map(to_plain) | self._transform


class EnrichRows(beam.PTransform):
  """Joins rows with a lookup table (``EnrichWithSideInput``).

  Args:
    source: a JSONL/CSV file, bq://[PROJECT.]DATASET.TABLE or bq-query:SELECT ...
    keys: row key paths, ROW_PATH or ROW_PATH=LOOKUP_COLUMN.
    fields: lookup columns to add, COLUMN or COLUMN:OUTPUT_NAME.
    missing: keep, dead_letter or drop.
    prefix: prefix of added fields that are not renamed.
    project: the project of bq:// sources without one.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` and ``dead_letters``.
  """

  def __init__(self, source: str, keys: Any, fields: Any, missing: str = 'keep',
               prefix: str = '', project: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.enrichment_options import parse_source
    from transforms.enrichment import EnrichmentConfig, EnrichWithSideInput
    key_specs = [keys] if isinstance(keys, str) else list(keys)
    field_specs = [fields] if isinstance(fields, str) else list(fields)
    row_keys, lookup_keys, names, rename = [], [], [], []
    for spec in key_specs:
      row_path, _, column = str(spec).partition('=')
      row_keys.append(row_path.strip())
      lookup_keys.append((column or row_path).strip())
    for spec in field_specs:
      column, _, alias = str(spec).partition(':')
      names.append(column.strip())
      if alias.strip():
        rename.append((column.strip(), alias.strip()))
    self._transform = EnrichWithSideInput(EnrichmentConfig(
        source=parse_source(source, project), keys=tuple(row_keys),
        lookup_keys=tuple(lookup_keys), fields=tuple(names), rename=tuple(rename),
        prefix=prefix, missing=missing, pipeline_name=pipeline_name))

  def expand(self, rows):
    return _outputs(rows | 'Plain' >> beam.Map(to_plain) | self._transform)


class CheckQualityRows(beam.PTransform):
  """Data-quality rules with per-window scores (``CheckQuality``).

  Args:
    rules: a rules file (YAML/JSON) or the rules mapping itself (``rules: [...]``).
    pipeline_name: written to dead letters and score rows.
  Outputs ``rows``, ``dead_letters`` and ``scores`` (quality-table rows).
  """

  def __init__(self, rules: Any, pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.quality import CheckQuality
    self._transform = CheckQuality(to_plain(rules), pipeline_name=pipeline_name)

  def expand(self, rows):
    return _outputs(rows | 'Plain' >> beam.Map(to_plain) | self._transform)


class WriteRowsToBigQueryTable(beam.PTransform):
  """Writes rows to BigQuery (``WriteRowsToBigQuery``); outputs the rejected rows as dead
  letters.

  Args:
    table: PROJECT:DATASET.TABLE (or DATASET.TABLE with --project).
    schema: the table schema file (used when the table is created).
    write_method: STREAMING_INSERTS or FILE_LOADS.
    temp_location: a folder for FILE_LOADS.
    pipeline_name: written to each dead letter.
  """

  def __init__(self, table: str, schema: Any, write_method: str = 'STREAMING_INSERTS',
               temp_location: Optional[str] = None, pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.sinks import BigQuerySinkConfig, WriteRowsToBigQuery
    self._transform = WriteRowsToBigQuery(
        BigQuerySinkConfig(table=table, write_method=write_method,
                           temp_location=temp_location),
        to_plain(schema), pipeline_name=pipeline_name)

  def expand(self, rows):
    return rows | 'Plain' >> beam.Map(to_plain) | self._transform


class WriteRowsToLake(beam.PTransform):
  """Writes rows as JSONL, Avro or Parquet files typed from the schema (``WriteRowsToFiles``);
  outputs rows that could not be encoded as dead letters.

  Args:
    path: the file prefix.
    schema: the table schema file the rows follow.
    format: jsonl, avro or parquet.
    num_shards: number of files (0: the runner decides).
    pipeline_name: written to each dead letter.
  """

  def __init__(self, path: str, schema: Any, format: str = 'jsonl', num_shards: int = 0,  # pylint: disable=redefined-builtin
               pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.lake_sink import LakeSinkConfig, WriteRowsToFiles
    self._transform = WriteRowsToFiles(
        LakeSinkConfig(path=path, format=format, num_shards=num_shards), to_plain(schema),
        pipeline_name=pipeline_name)

  def expand(self, rows):
    return rows | 'Plain' >> beam.Map(to_plain) | self._transform


class WriteDeadLetterRecords(beam.PTransform):
  """Writes dead letters to BigQuery (``table``) or JSONL files (``path``)
  (``WriteDeadLetters``); outputs the ones the table rejected.

  Args:
    path: a file prefix for JSONL dead letters.
    table: a BigQuery dead-letter table (instead of path).
    pipeline_name: pipeline name.
  """

  def __init__(self, path: Optional[str] = None, table: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from transforms.dead_letters import DeadLetterSinkConfig, WriteDeadLetters
    if bool(path) == bool(table):
      raise ValueError('WriteDeadLetters: give exactly one of path or table')
    config = (DeadLetterSinkConfig(kind='files', path=path) if path
              else DeadLetterSinkConfig(kind='bigquery', table=table))
    self._transform = WriteDeadLetters(config, pipeline_name=pipeline_name)

  def expand(self, dead_letters):
    return dead_letters | 'Plain' >> beam.Map(to_plain) | self._transform


class ToJsonLines(beam.PTransform):
  """Rows or dead letters -> ``Row(line=<JSON>)``, for YAML's ``WriteToText``."""

  def expand(self, pcoll):
    return pcoll | 'ToJson' >> beam.Map(
        lambda e: beam.Row(line=json.dumps(to_plain(e), ensure_ascii=False, sort_keys=True,
                                           default=str)))
