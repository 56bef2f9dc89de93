"""Masking options (GDPR) for every pipeline, their typed config, and the wiring helpers.

    --masking_policy samples/masking_policy.yaml
    --masking_key_source env:MASKING_KEY | file:/path | secret:projects/p/secrets/s/versions/3
    --dead_letter_payload mask|redact|drop
    --erase_list erase.txt | bigquery:[PROJECT:]DATASET.TABLE[#column]
    --subject_field user.id
    --erase_list_refresh_seconds 300        (streaming: each worker re-reads the list)

A pipeline adds masking with two calls (see ``files_to_bigquery.build_pipeline``)::

    masked = mask_rows(parsed.rows, cfg.masking, pipeline_name=name)        # step 'MaskPII'
    ... write masked.rows with output_schema(cfg.masking, cfg.schema) ...
    dead = mask_dead_letters(all_dead_letters, cfg.masking, masked)        # 'MaskDeadLetters'
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.masking import (DEAD_LETTER_PAYLOAD_MODES, BoundPolicy, LoadEraseList,
                                MaskDeadLetters, MaskingKey, MaskPII, bind_policy,
                                parse_erase_source)
from transforms.masking.erasure import ReloadingEraseList
from transforms.masking.policy import subject_getter


class MaskingOptions(PipelineOptions):
  """GDPR masking options shared by every pipeline (subclasses PipelineOptions directly:
  Beam only registers direct subclasses)."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--masking_policy', default=None,
                        help='Masking policy file (YAML or JSON). Without it rows are written '
                             'unmasked.')
    parser.add_argument('--masking_key_source', default=None,
                        help='Where the masking key is: env:VARIABLE, file:PATH or '
                             'secret:projects/P/secrets/S/versions/V. Never the key itself.')
    parser.add_argument('--dead_letter_payload', default='mask',
                        help='Dead-letter payloads: mask (policy; scrub what does not parse), '
                             'redact (patterns only) or drop (keep a keyed hash).')
    parser.add_argument('--erase_list', default=None,
                        help='Subject ids to erase: a file (one id a line) or '
                             'bigquery:[PROJECT:]DATASET.TABLE[#column].')
    parser.add_argument('--erase_list_refresh_seconds', default='0',
                        help='0 (default): read the erase list once at start (batch). N > 0: '
                             'each worker re-reads it every N seconds (streaming).')
    parser.add_argument('--subject_field', default=None,
                        help='Dotted path of the subject id in the input schema (user.id); '
                             'needed with --erase_list.')


@dataclass(frozen=True)
class MaskingConfig:
  """Masking, validated: the policy bound to the input schema and the loaded key."""
  policy: BoundPolicy
  key: MaskingKey
  dead_letter_payload: str = 'mask'
  erase_list: Optional[str] = None
  subject_field: Optional[str] = None
  project: Optional[str] = None
  erase_list_refresh_seconds: float = 0

  @property
  def output_schema(self):
    return self.policy.output_schema


def masking_config(options, schema):
  """MaskingOptions -> MaskingConfig, or None when no --masking_policy is given.

  Raises ConfigError naming the option. The key is loaded here (so a missing key fails
  before the pipeline starts); error messages never contain key material.
  """
  from beam_pipelines.options import ConfigError, _convert
  from apache_beam.options.pipeline_options import GoogleCloudOptions
  opts = options.view_as(MaskingOptions)
  if opts.dead_letter_payload not in DEAD_LETTER_PAYLOAD_MODES:
    raise ConfigError(f'--dead_letter_payload must be one of '
                      f'{"|".join(DEAD_LETTER_PAYLOAD_MODES)}, got {opts.dead_letter_payload!r}')
  if not opts.masking_policy:
    for name in ('masking_key_source', 'erase_list', 'subject_field'):
      if getattr(opts, name):
        raise ConfigError(f'--{name} needs --masking_policy')
    return None
  if not opts.masking_key_source:
    raise ConfigError('--masking_key_source is required with --masking_policy '
                      '(env:VARIABLE, file:PATH or secret:projects/P/secrets/S/versions/V)')
  bound = _convert('masking_policy', bind_policy, opts.masking_policy, schema)
  key = _convert('masking_key_source', MaskingKey.load, opts.masking_key_source)
  refresh = _convert('erase_list_refresh_seconds', float, opts.erase_list_refresh_seconds)
  if refresh < 0 or refresh != refresh:
    raise ConfigError(f'--erase_list_refresh_seconds must be 0 or positive, got '
                      f'{opts.erase_list_refresh_seconds!r}')
  if opts.erase_list:
    _convert('erase_list', parse_erase_source, opts.erase_list)
    if not opts.subject_field:
      raise ConfigError('--subject_field is required with --erase_list')
  if opts.subject_field:
    _convert('subject_field', subject_getter, schema, opts.subject_field)
  return MaskingConfig(policy=bound, key=key, dead_letter_payload=opts.dead_letter_payload,
                       erase_list=opts.erase_list, subject_field=opts.subject_field,
                       project=options.view_as(GoogleCloudOptions).project,
                       erase_list_refresh_seconds=refresh)


class MaskedRows(NamedTuple):
  """What ``mask_rows`` returns: masked rows, mask-stage dead letters, and the erase list
  (a side-input PCollection or a ReloadingEraseList) for ``mask_dead_letters`` to share."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  erase_ids: object


def masked_output_schema(masking, schema):
  """The table schema rows are written with: the masked schema, or ``schema`` unmasked."""
  return schema if masking is None else masking.output_schema


def _reloading(masking):
  return ReloadingEraseList(masking.erase_list, masking.erase_list_refresh_seconds,
                            masking.project)


def mask_rows(rows, masking, pipeline_name=None):
  """Applies ``MaskPII`` (step 'MaskPII') and loads the erase list (step 'LoadEraseList'; with
  ``--erase_list_refresh_seconds`` > 0 each worker re-reads it instead: no step).

  With ``masking`` None, returns the rows unchanged and no dead letters.
  """
  if masking is None:
    return MaskedRows(rows, rows.pipeline | 'NoMaskDeadLetters' >> beam.Create([]), None)
  erase = None
  if masking.erase_list and masking.erase_list_refresh_seconds > 0:
    erase = _reloading(masking)
  elif masking.erase_list:
    erase = rows.pipeline | 'LoadEraseList' >> LoadEraseList(masking.erase_list,
                                                             masking.project)
  result = rows | 'MaskPII' >> MaskPII(
      masking.policy, masking.policy.schema, masking.key,
      subject_field=masking.subject_field, erase_ids=erase, pipeline_name=pipeline_name)
  return MaskedRows(result.rows, result.dead_letters, erase)


def mask_dead_letters(dead_letters, masking, masked_rows=None, csv=None):
  """Applies ``MaskDeadLetters`` (step 'MaskDeadLetters') to the flattened dead letters of
  every stage; pass ``mask_rows``' result to share its erase list, and the source's
  ``CsvFormat`` when it reads CSV (CSV payloads are then masked cell by cell). Identity when
  ``masking`` is None."""
  if masking is None:
    return dead_letters
  erase = masked_rows.erase_ids if masked_rows is not None else None
  if erase is None and masking.erase_list and masking.erase_list_refresh_seconds > 0:
    erase = _reloading(masking)
  elif erase is None and masking.erase_list:
    erase = dead_letters.pipeline | 'LoadEraseListForDeadLetters' >> LoadEraseList(
        masking.erase_list, masking.project)
  return dead_letters | 'MaskDeadLetters' >> MaskDeadLetters(
      masking.policy, masking.policy.schema, masking.key, mode=masking.dead_letter_payload,
      subject_field=masking.subject_field, erase_ids=erase, csv=csv)
