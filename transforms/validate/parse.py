"""ParseAndValidate: raw messages in, BigQuery-ready rows and dead letters out."""

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult,
                                         dead_letter_from_message)
from beam_pipelines.transforms.read.formats.avro import load_avro_schema
from beam_pipelines.transforms.read.formats.base import DecodeError
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat, check_schema_for_csv
from beam_pipelines.transforms.read.formats.registry import get_decoder, make_decoder
from beam_pipelines.transforms.validate.schema import load_schema
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy, summarize

_LOG = logging.getLogger(__name__)
# BigQuery's streaming-insert limit for one row.
DEFAULT_MAX_RECORD_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ParseConfig:
  """How payloads are decoded and validated.

  Attributes:
    format: payload format, a key of ``beam_pipelines.transforms.read.formats.registry.DECODERS`` (``json``, ``csv``,
      ``avro``).
    policy: the ValidationPolicy (unknown fields, coercion, NaN handling). For ``csv`` it
      always reads values as text (``text_input=True``).
    max_record_bytes: larger payloads become ``payload_too_large`` dead letters.
    pipeline_name: recorded in every dead letter's ``pipeline`` field.
    csv: the CsvFormat of ``csv`` payloads (column names when records carry no header).
    avro_schema: the writer schema of ``avro`` payloads (dict, JSON text or .avsc path).
  """
  format: str = 'json'
  policy: ValidationPolicy = field(default_factory=ValidationPolicy)
  max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
  pipeline_name: Optional[str] = None
  csv: Optional[CsvFormat] = None
  avro_schema: Any = None

  def __post_init__(self):
    get_decoder(self.format)  # raises ValueError naming the format
    if self.format == 'csv':
      if self.csv is not None and not isinstance(self.csv, CsvFormat):
        raise ValueError(f'csv must be a CsvFormat, got {type(self.csv).__name__}')
      if not self.policy.text_input:
        object.__setattr__(self, 'policy', replace(self.policy, text_input=True))
    if self.format == 'avro':
      if self.avro_schema is None:
        raise ValueError('avro_schema is required for the avro payload format')
      load_avro_schema(self.avro_schema)  # raises ValueError naming the problem
    if self.max_record_bytes <= 0:
      raise ValueError(f'max_record_bytes must be positive, got {self.max_record_bytes}')


class ParseAndValidateFn(beam.DoFn):
  def __init__(self, schema, config):
    self._schema = schema
    self._config = config
    self._validator = None
    self._decode = None
    self._ok = Metrics.counter('parse', 'ok')
    self._parse_failed = Metrics.counter('parse', 'failed')
    self._invalid = Metrics.counter('validate', 'failed')
    self._patches = beam_patches.enabled()  # re-applied in worker processes

  def setup(self):
    beam_patches.ensure(self._patches)
    self._validator = RecordValidator(self._schema, self._config.policy)
    self._decode = make_decoder(self._config, self._schema)

  def process(self, message):
    config = self._config
    try:
      if len(message.payload) > config.max_record_bytes:
        self._parse_failed.inc()
        yield self._dead(message, 'parse', 'payload_too_large',
                         f'payload of {len(message.payload)} bytes exceeds the limit of '
                         f'{config.max_record_bytes} bytes')
        return
      try:
        obj = self._decode(message.payload, message.attributes)
      except DecodeError as e:
        self._parse_failed.inc()
        yield self._dead(message, 'parse', e.kind, e.detail)
        return
      row, problems = self._validator.validate(obj)
      if problems:
        self._invalid.inc()
        error_type, reason = summarize(problems)
        yield self._dead(message, 'validate', error_type, reason)
        return
      self._ok.inc()
      yield row
    except Exception as e:  # pylint: disable=broad-except
      # A bug of ours must not lose the record or crash-loop the pipeline.
      _LOG.exception('unexpected error parsing %s', message.source_id)
      self._parse_failed.inc()
      yield self._dead(message, 'parse', 'internal_error', f'{type(e).__name__}: {e}', exc=e)

  def _dead(self, message, stage, error_type, reason, exc=None):
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dead_letter_from_message(
        message, stage=stage, error_type=error_type, reason=reason,
        pipeline=self._config.pipeline_name, exc=exc))


class ParseAndValidate(beam.PTransform):
  """Decodes RawMessages and validates them against a BigQuery table schema.

  Outputs a ``FallibleResult``: ``rows`` (dicts in BigQuery JSON form, one per good record)
  and ``dead_letters`` (one record per bad input, stage ``parse`` or ``validate``, with a
  stable errorType such as ``invalid_json`` or ``missing_required:user.id`` and a message
  naming every bad field). Nothing raises for bad data.

  Example::

      result = messages | ParseAndValidate('schema.json')
      result.rows | WriteRowsToBigQuery(...)
      result.dead_letters | WriteDeadLetters(...)
  """

  def __init__(self, schema, config=None, label=None):
    super().__init__(label)
    self._schema = load_schema(schema)
    self._config = config or ParseConfig()
    if not isinstance(self._config, ParseConfig):
      raise ValueError(f'config must be a ParseConfig, got {type(self._config).__name__}')
    if self._config.format == 'csv':
      check_schema_for_csv(self._schema)  # ValueError: a REQUIRED RECORD cannot come from CSV

  def expand(self, messages):
    outputs = messages | 'ParseValidate' >> beam.ParDo(
        ParseAndValidateFn(self._schema, self._config)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])
