"""Masking options (GDPR) for every pipeline and their typed config, ``MaskingConfig``.

    --masking_policy samples/masking_policy.yaml
    --masking_key_source env:MASKING_KEY | file:/path | secret:projects/p/secrets/s/versions/3
    --dead_letter_payload mask|redact|drop
    --erase_list erase.txt | bigquery:[PROJECT:]DATASET.TABLE[#column]
    --subject_field user.id
    --erase_list_refresh_seconds 300        (streaming: each worker re-reads the list)

The steps it configures (``MaskPII``, ``MaskDeadLetters``) are wired by
``beam_pipelines.chain_steps``.
"""

from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.transforms.masking import MaskingKey, parse_erase_source
from beam_pipelines.transforms.masking.binding import BoundPolicy, bind_policy, subject_getter
from beam_pipelines.transforms.masking.mask_dead_letters import DEAD_LETTER_PAYLOAD_MODES


class MaskingOptions(PipelineOptions):
  """GDPR masking options shared by every pipeline (subclasses PipelineOptions directly:
  Beam only registers direct subclasses)."""
  HELP_TITLE = 'GDPR masking and the erase list'  # its group in --help

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
  bound = convert('masking_policy', bind_policy, opts.masking_policy, schema)
  key = convert('masking_key_source', MaskingKey.load, opts.masking_key_source)
  refresh = convert('erase_list_refresh_seconds', float, opts.erase_list_refresh_seconds)
  if refresh < 0 or refresh != refresh:
    raise ConfigError(f'--erase_list_refresh_seconds must be 0 or positive, got '
                      f'{opts.erase_list_refresh_seconds!r}')
  if opts.erase_list:
    convert('erase_list', parse_erase_source, opts.erase_list)
    if not opts.subject_field:
      raise ConfigError('--subject_field is required with --erase_list')
  if opts.subject_field:
    convert('subject_field', subject_getter, schema, opts.subject_field)
  return MaskingConfig(policy=bound, key=key, dead_letter_payload=opts.dead_letter_payload,
                       erase_list=opts.erase_list, subject_field=opts.subject_field,
                       project=options.view_as(GoogleCloudOptions).project,
                       erase_list_refresh_seconds=refresh)
