"""ParseAndValidate: raw messages in, BigQuery-ready rows and dead letters out."""

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.batches import batch_hint, batched_or_not, check_batched
from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG,
                                                        dead_letter_from_message, pipeline_name_of)
from beam_pipelines.transforms.core.elements import (SOURCE_ID_KEY, RowDict, is_row, payload_of,
                                                     plain, unsupported_element_dead_letter,
                                                     with_source_id)
from beam_pipelines.transforms.core.messages import RawMessage, raw_message
from beam_pipelines.transforms.core.outputs import fallible_result
from beam_pipelines.transforms.read.formats.avro import load_avro_schema
from beam_pipelines.transforms.read.formats.base import DecodeError
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat, check_schema_for_csv
from beam_pipelines.transforms.read.formats.registry import get_decoder, make_decoder
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.validator import (RecordValidator, ValidationPolicy,
                                                          summarize)

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
  """Decodes and validates one element (a raw message, a line, a dict or a beam.Row)."""

  def __init__(self, schema, config, pipeline_name=None, with_source_ids=False):
    self._schema = schema
    self._config = config
    self._with_source_ids = with_source_ids
    self._pipeline_name = pipeline_name or config.pipeline_name
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

  def process(self, element):
    if isinstance(element, RawMessage):
      yield from self._parse(element)
    elif isinstance(element, (bytes, str)):
      yield from self._parse(raw_message(element, None))
    elif isinstance(element, dict) or is_row(element):
      yield from self._validate_object(element)
    else:
      self._parse_failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'parse', 'ParseAndValidate', ACCEPTED, self._pipeline_name))

  def _parse(self, message):
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
      yield from self._validated(obj, message)
    except Exception as e:  # pylint: disable=broad-except
      # A bug of ours must not lose the record or crash-loop the pipeline.
      _LOG.exception('unexpected error parsing %s', message.source_id)
      self._parse_failed.inc()
      yield self._dead(message, 'parse', 'internal_error', f'{type(e).__name__}: {e}', exc=e)

  def _validate_object(self, element):
    """A dict or Row is validated as it is (nothing to decode); its dead letters carry it as
    JSON."""
    obj = plain(element)  # a copy: the input element is never changed
    source_id = obj.pop(SOURCE_ID_KEY, None)
    message = RawMessage(payload_of(obj).encode('utf-8'), {}, source_id, 0.0, None)
    try:
      yield from self._validated(obj, message)
    except Exception as e:  # pylint: disable=broad-except
      _LOG.exception('unexpected error validating %s', source_id)
      self._parse_failed.inc()
      yield self._dead(message, 'validate', 'internal_error', f'{type(e).__name__}: {e}',
                       exc=e)

  def _validated(self, obj, message):
    row, problems = self._validator.validate(obj)
    if problems:
      self._invalid.inc()
      error_type, reason = summarize(problems)
      yield self._dead(message, 'validate', error_type, reason)
      return
    self._ok.inc()
    yield with_source_id(row, message.source_id) if self._with_source_ids else row

  def _dead(self, message, stage, error_type, reason, exc=None):
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dead_letter_from_message(
        message, stage=stage, error_type=error_type, reason=reason,
        pipeline=self._pipeline_name, exc=exc))


ACCEPTED = 'raw messages (ReadEvents), lines (str or bytes), dicts or beam.Rows'


class ParseAndValidate(beam.PTransform):
  """Decodes records and validates them against a BigQuery table schema.

  Input: raw messages (``ReadEvents``), lines (``str``/``bytes``, e.g. ``ReadFromText``:
  decoded per ``config.format``), or records already decoded (``dict``, ``beam.Row``:
  validated as they are). Any other element becomes a dead letter
  ``unsupported_element:<kind>``.

  Outputs a ``FallibleResult``: ``rows`` (dicts in BigQuery JSON form, one per good record;
  with ``with_source_ids``, each carries its record's source id, see
  ``beam_pipelines.transforms.core.elements``) and
  ``dead_letters`` (one record per bad input, stage ``parse`` or ``validate``, with a stable
  errorType such as ``invalid_json`` or ``missing_required:user.id`` and a message naming
  every bad field). Nothing raises for bad data.

  Args:
    schema: the BigQuery table schema: a path to its JSON file, the JSON (dict or list) or a
      ``TableSchema``.
    config: a ``ParseConfig`` (payload format, validation policy); default JSON, strict.
    pipeline_name: recorded in each dead letter (default: the pipeline's ``--pipeline_name``
      or ``--job_name`` option).
    with_source_ids: rows carry their record's source id under a reserved key, so the dead
      letters of every later step of the suite (masking, enrichment, user function,
      quality, window, sink) still name the record; the suite's sinks drop the key. Off by
      default: rows are then exactly the table's columns.
    batched: the input elements are batches (lists) of records and ``rows`` are batches of
      rows (``beam_pipelines.transforms.core.batches``): the same rows and dead letters, with
      the runner's per-element cost paid per batch. ``TimedBatches(size)``: timed batches,
      each record with its own timestamp (streaming).

  Example::

      result = beam.io.ReadFromText('events.jsonl') | ParseAndValidate('schema.json')
      result.rows | WriteRowsToBigQuery('schema.json', BigQuerySinkConfig('p:ds.events'))
      result.dead_letters | WriteDeadLetters(DeadLetterSinkConfig(table='p:ds.errors'))
  """

  def __init__(self, schema, config=None, *, pipeline_name=None, with_source_ids=False,
               batched=False, label=None):
    super().__init__(label)
    self._schema = load_schema(schema)
    self._config = config or ParseConfig()
    if not isinstance(self._config, ParseConfig):
      raise ValueError(f'config must be a ParseConfig, got {type(self._config).__name__}')
    if self._config.format == 'csv':
      check_schema_for_csv(self._schema)  # ValueError: a REQUIRED RECORD cannot come from CSV
    self._pipeline_name = pipeline_name
    self._with_source_ids = bool(with_source_ids)
    self._batched = check_batched(batched, 'ParseAndValidate')

  @property
  def output_schema(self):
    """The schema of the rows it outputs (the input schema)."""
    return self._schema

  def expand(self, messages):
    name = pipeline_name_of(messages.pipeline, self._pipeline_name or self._config.pipeline_name)
    outputs = messages | 'ParseValidate' >> beam.ParDo(batched_or_not(
        ParseAndValidateFn(self._schema, self._config, name, self._with_source_ids),
        self._batched)).with_output_types(
            batch_hint(self._batched, RowDict)).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
    return fallible_result(outputs, self._schema)
