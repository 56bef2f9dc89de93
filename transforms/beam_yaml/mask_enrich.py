"""Beam YAML wrappers of the row stages: ``MaskPII``, ``MaskDeadLetters``, ``Enrich`` and
``CheckQuality``.
"""

from typing import Any, Optional

import apache_beam as beam

from beam_pipelines.transforms.beam_yaml.elements import outputs_of, schema_setting, to_plain


class MaskRows(beam.PTransform):
  """Masks PII in rows with a policy file (``MaskPII``).

  Args:
    schema: the input table schema file the policy is bound to (or the schema itself).
    policy: the masking policy file (YAML or JSON), or the policy itself.
    key_source: where the key is: env:VARIABLE, file:PATH or secret:... (never the key).
    subject_field: the subject id path (for an erase list).
    erase_list: a file of subject ids to suppress.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (masked) and ``dead_letters``.
  """

  def __init__(self, schema: Any, policy: Any, key_source: str,
               subject_field: Optional[str] = None, erase_list: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.masking import LoadEraseList, MaskingKey
    from beam_pipelines.transforms.masking.binding import bind_policy
    from beam_pipelines.transforms.masking.mask_rows import MaskPII
    bound = bind_policy(to_plain(policy), to_plain(schema))
    self._erase_list = erase_list
    self._make = lambda erase: MaskPII(bound.schema, bound, MaskingKey.load(key_source),
                                       subject_field=subject_field, erase_ids=erase,
                                       pipeline_name=pipeline_name)
    self._load_erase = LoadEraseList
    self._make(None)  # validates the key and the settings now

  def expand(self, rows):
    erase = None
    if self._erase_list:
      erase = rows.pipeline | 'LoadEraseList' >> self._load_erase(self._erase_list)
    return outputs_of(rows | self._make(erase))


class MaskDeadLetterRecords(beam.PTransform):
  """Masks the payloads of dead letters with the same policy (``MaskDeadLetters``).

  Args:
    schema: the input table schema file the policy is bound to (or the schema itself).
    policy: the masking policy file, or the policy itself.
    key_source: where the key is: env:VARIABLE, file:PATH or secret:...
    mode: mask, redact or drop.
    pipeline_name: written to dead letters this step makes (from elements that were not
      dead letters yet).
  Output: the masked dead letters.
  """

  def __init__(self, schema: Any, policy: Any, key_source: str, mode: str = 'mask',
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.masking import MaskingKey
    from beam_pipelines.transforms.masking.binding import bind_policy
    from beam_pipelines.transforms.masking.mask_dead_letters import MaskDeadLetters
    bound = bind_policy(to_plain(policy), to_plain(schema))
    self._transform = MaskDeadLetters(bound.schema, bound, MaskingKey.load(key_source),
                                      mode=mode, pipeline_name=pipeline_name)

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
    from beam_pipelines.transforms.enrichment.config import EnrichmentConfig
    from beam_pipelines.transforms.enrichment.sources.spec import parse_source
    from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput
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
    return outputs_of(rows | self._transform)


class CheckQualityRows(beam.PTransform):
  """Data-quality rules with per-window scores (``CheckQuality``).

  Args:
    rules: a rules file (YAML/JSON) or the rules mapping itself (``rules: [...]``).
    schema: optional: the rows' table schema, to check the rules' field paths against.
    pipeline_name: written to dead letters and score rows.
  Outputs ``rows``, ``dead_letters`` and ``scores`` (quality-table rows).
  """

  def __init__(self, rules: Any, schema: Any = None, pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.quality import CheckQuality
    self._transform = CheckQuality(to_plain(rules), schema=schema_setting(schema),
                                   pipeline_name=pipeline_name)

  def expand(self, rows):
    return outputs_of(rows | self._transform)
