"""MaskDeadLetters: the masking policy applied to dead-letter records of every stage.

A payload that parses is masked by the policy (leniently: see
``beam_pipelines.transforms.masking.maskers``); CSV payloads cell by cell
(``beam_pipelines.transforms.read.formats.csv_payload``); what does not parse is scrubbed by pattern or
replaced by a keyed hash, per ``mode`` (``mask``, ``redact``, ``drop``).
"""

import base64
import json
import re

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.dead_letter import payload_bytes, pipeline_name_of
from beam_pipelines.transforms.core.elements import DeadLetter
from beam_pipelines.transforms.core.outputs import typed_dead_letters
from beam_pipelines.transforms.core.to_dead_letters import to_dead_letter
from beam_pipelines.transforms.masking.attributes import compile_attribute_masker
from beam_pipelines.transforms.masking.binding import subject_getter
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.maskers import (compile_kept_text_checks,
                                                       compile_lenient_masker)
from beam_pipelines.transforms.masking.patterns import (looks_like_json, redact_patterns,
                                                        scrub_json_text, scrub_message)
from beam_pipelines.transforms.masking.step_support import (EraseMixin, bind_if_needed, check_key,
                                                            erase_side_input, schema_and_policy,
                                                            payload_hash)
from beam_pipelines.transforms.read.formats import csv_format as csvf
from beam_pipelines.transforms.read.formats import csv_payload

DEAD_LETTER_PAYLOAD_MODES = ('mask', 'redact', 'drop')
# Dead letters of these stages carry a payload that was read before MaskPII (raw input):
# their payload is masked. Later stages (mask, enrich, window, sink) carry rows MaskPII
# already masked: only their messages are scrubbed.
# Stages whose payload is a row MaskPII masked already. Every other stage (the raw-input
# stages, user functions, and any stage a user's own step names) is masked as raw input.
PREMASKED_STAGES = ('mask', 'enrich', 'window', 'sink', 'quality')


def _decode_json(data):
  try:
    return orjson.loads(data)
  except orjson.JSONDecodeError:
    pass
  try:
    return json.loads(data.decode('utf-8'))
  except (ValueError, RecursionError):
    return None


_NUMBER_IN_TEXT = re.compile(r'\d+(?:[.:\-]\d+)*')


def _payload_values(obj, kept_paths, known_paths=None, path='', out=None):
  """Raw scalar values (as text, 3+ characters) of fields not in ``kept_paths``, for
  message scrubbing; with ``known_paths``, also the keys whose path is not there (a field
  the schema lacks: its name is input, maybe personal data)."""
  if out is None:
    out = set()
  if isinstance(obj, dict):
    for k, v in obj.items():
      if not isinstance(k, str):
        continue
      child = (path + '.' if path else '') + k.lower()
      if known_paths is not None and child not in known_paths and len(k) >= 3:
        out.add(k)
      _payload_values(v, kept_paths, known_paths, child, out)
  elif isinstance(obj, list):
    for v in obj:
      _payload_values(v, kept_paths, known_paths, path, out)
  elif obj is not None and not isinstance(obj, bool) and path not in kept_paths:
    text = obj if isinstance(obj, str) else str(obj)
    if len(text) >= 3:
      out.add(text)
      # Messages may quote a number out of a longer value (WKT coordinates, dates).
      out.update(m for m in _NUMBER_IN_TEXT.findall(text) if len(m) >= 4)
  return out


def _get_path(obj, path):
  for part in path.split('.'):
    if not isinstance(obj, dict):
      return None
    obj = obj.get(part)
  return obj


def _split_rows(obj, row_paths):
  """(the object without the rows at ``row_paths``, {path: row}) for the dict rows found."""
  rows = {p: r for p in row_paths if isinstance(r := _get_path(obj, p), dict)}
  if not rows:
    return obj, rows
  skeleton = json.loads(json.dumps(obj, default=str))  # a deep copy that can be cut
  for path in rows:
    *parents, last = path.split('.')
    parent = _get_path(skeleton, '.'.join(parents)) if parents else skeleton
    if isinstance(parent, dict):
      parent.pop(last, None)
  return skeleton, rows


def _set_path(obj, path, value):
  *parents, last = path.split('.')
  for part in parents:
    child = obj.get(part)
    if not isinstance(child, dict):
      child = obj[part] = {}
    obj = child
  obj[last] = value


class MaskDeadLettersFn(EraseMixin, beam.DoFn):

  def __init__(self, bound, key, mode, subject_field, static_erase, csv_config=None,
               pipeline_name=None, row_paths=None):
    self._pipeline_name = pipeline_name
    self._row_paths = tuple(row_paths or ())
    self._bound = bound
    self._key = key
    self._mode = mode
    self._csv = csv_config
    self._subject_field = subject_field
    self._static_erase = static_erase
    self._counters = {name: Metrics.counter('mask', f'dead_letters_{name}')
                      for name in ('policy', 'scrubbed', 'redacted', 'hashed', 'premasked')}
    self._erased = Metrics.counter('mask', 'erased')
    self._erased_dead = Metrics.counter('mask', 'erased_dead_letters')

  def setup(self):
    # Compiled at the first dead letter, not here: Beam's local streaming runner calls setup
    # for every bundle, and most bundles of this step hold no dead letter (compiling the
    # maskers was 6.5% of the streaming pipeline's CPU at 500 msg/s, BENCHMARKS.md Round 4).
    self._compiled = False

  def _compile(self):
    self._compiled = True
    self._keys = DerivedKeys(self._key)
    self._lenient = compile_lenient_masker(self._bound, self._keys)
    self._mask_attributes = compile_attribute_masker(self._bound)
    self._lenient_text = compile_lenient_masker(self._bound, self._keys, text_input=True)
    self._kept_paths = compile_kept_text_checks(self._bound)
    # Under default: drop, a key whose path the schema lacks is input the policy has not
    # approved: it is scrubbed from messages and from JSON text (None: keys are kept).
    self._approved_key_paths = (self._bound.known_paths()
                                if self._bound.policy.default == 'drop' else None)
    self._csv_format = self._csv or csvf.CsvFormat()
    # CSV cells are text: an empty cell is NULL for every type but STRING (as when parsed).
    self._not_string = frozenset(f.name.lower() for f in self._bound.schema.fields
                                 if f.type != 'STRING' or f.repeated)
    self._subject = (subject_getter(self._bound.schema, self._subject_field)
                     if self._subject_field else None)
    self._setup_erase()

  def process(self, record, erase_ids=None):
    if not self._compiled:
      self._compile()
    # Beam's with_exception_handling output, or anything else: a dead letter first (its
    # payload is raw input and is masked as such).
    record = to_dead_letter(record, 'user', self._pipeline_name)
    erase = self._erase_set(erase_ids)
    out = dict(record)
    values = ()
    attributes = record.get('attributes') or []
    if record.get('stage') not in PREMASKED_STAGES:
      payload = payload_bytes(record)
      attrs = {a.get('key'): a.get('value') for a in attributes}
      if csv_payload.is_csv_payload(attrs, self._csv):
        how, text, values, erased, columns = self._mask_csv_payload(payload, attrs, erase)
        if columns is not None:
          header = json.dumps(columns, ensure_ascii=False)
          attributes = [{'key': a.get('key'), 'value': header}
                        if a.get('key') == csvf.COLUMNS_ATTRIBUTE else a for a in attributes]
      else:
        how, text, values, erased = self._mask_payload(payload, erase)
      if erased:
        self._erased.inc()
        self._erased_dead.inc()
        return
      encoded = text.encode('utf-8')
      out['payloadString'] = text

      out['payloadBytes'] = base64.b64encode(encoded).decode('ascii')
    else:
      how = 'premasked'
      if record.get('stage') == 'sink':
        # The payload is a masked row already; pattern redaction is a second line of defence.
        text = redact_patterns(record.get('payloadString') or '')
        if text != record.get('payloadString'):
          out['payloadString'] = text
          out['payloadBytes'] = base64.b64encode(text.encode('utf-8')).decode('ascii')
    self._counters[how].inc()
    out['errorMessage'] = scrub_message(record.get('errorMessage'), values)
    out['stacktrace'] = scrub_message(record.get('stacktrace'), values)
    out['attributes'] = self._mask_attributes(attributes) + [
            {'key': 'masking_key_id', 'value': self._keys.key_id},
            {'key': 'payload_masking', 'value': how}]
    yield out

  def _mask_payload(self, payload, erase):
    """(how, text, raw values, erased) for one raw payload."""
    mode = self._mode
    subject = self._subject
    obj = _decode_json(payload) if payload.strip() else None
    values = ()
    if isinstance(obj, (dict, list)):
      values = _payload_values(obj, self._kept_paths, self._approved_key_paths)
    rows = {}
    if isinstance(obj, dict):
      obj, rows = _split_rows(obj, self._row_paths) if self._row_paths else (obj, {})
      subjects = [subject.lenient(r) for r in (rows.values() if rows else [obj])] if (
          erase and subject is not None) else []
      if any(s in erase for s in subjects):
        return None, None, values, True
    if mode == 'drop':
      return 'hashed', payload_hash(self._keys, payload), values, False
    text = payload.decode('utf-8', errors='replace')
    if mode == 'redact':
      return 'redacted', redact_patterns(text), values, False
    if isinstance(obj, dict):
      masked = self._lenient(obj)
      for path, row in rows.items():  # rows inside an envelope: masked as rows
        _set_path(masked, path, self._lenient(row))
      return 'policy', json.dumps(masked, ensure_ascii=False, sort_keys=False), values, False
    if not text.strip():
      return 'policy', text, values, False
    if looks_like_json(text):
      scrubbed, erased = scrub_json_text(
          text, self._kept_paths, subject.leaf if subject is not None else None, erase,
          known_paths=self._approved_key_paths)
      return 'scrubbed', scrubbed, values, erased
    # Not JSON at all (binary, a Python repr...): nothing says which part is personal data.
    return 'hashed', payload_hash(self._keys, payload), values, False

  def _mask_csv_payload(self, payload, attributes, erase):
    """(how, text, raw values, erased, masked columns or None) for one raw CSV record.

    A record that maps onto its columns (strict CSV, as many cells as names) gets the policy
    and is written back as CSV with the columns the policy keeps (``columns``: the new
    ``csv_columns`` attribute). Anything else is hashed in ``mask`` mode: its cells cannot
    be told apart, so none is kept.
    """
    mode = self._mode
    subject = self._subject
    fmt = self._csv_format
    if not payload.strip():
      return 'policy', payload.decode(fmt.encoding, errors='replace'), (), False, None
    columns, obj = csv_payload.parse_payload(payload, attributes, fmt)
    if obj is not None:
      obj = {k: (None if v == '' and k.lower() in self._not_string else v)
             for k, v in obj.items()}
      values = _payload_values(obj, self._kept_paths, self._approved_key_paths)
      if erase and subject is not None and subject.lenient(obj) in erase:
        return None, None, values, True, None
    else:
      cells = csv_payload.lenient_cells(payload, fmt)
      values = set()
      for cell in cells:
        if len(cell) >= 3:
          values.add(cell)
          values.update(m for m in _NUMBER_IN_TEXT.findall(cell) if len(m) >= 4)
      if self._approved_key_paths is not None:  # header names are input too
        values.update(c for c in columns or () if isinstance(c, str) and len(c) >= 3
                      and c.strip().lower() not in self._approved_key_paths)
      if erase and any(cell in erase for cell in cells):
        # The subject's column cannot be found; a cell equal to an erased id is enough.
        return None, None, values, True, None
    if mode == 'drop':
      return 'hashed', payload_hash(self._keys, payload), values, False, None
    if mode == 'redact':
      text = payload.decode(fmt.encoding, errors='replace')
      return 'redacted', redact_patterns(text), values, False, None
    if obj is None:
      return 'hashed', payload_hash(self._keys, payload), values, False, None
    masked = self._lenient_text(obj)
    kept = [c for c in columns if c in masked]
    return 'policy', csv_payload.to_csv_text(kept, masked, fmt), values, False, kept


class MaskDeadLetters(beam.PTransform):
  """Masks dead-letter records with the same policy as the rows, before they are written.

  Args: ``schema`` (the input table schema) and ``policy``, as for ``MaskPII``; ``key``;
  ``mode`` (below); ``subject_field``/``erase_ids`` (the erase list); ``csv`` (the source's
  ``CsvFormat`` when it reads CSV); ``pipeline_name`` (for elements it turns into dead
  letters). Input: dead-letter records; Beam's ``with_exception_handling`` bad output and
  ``(element, exception)`` pairs are turned into dead letters first (``ToDeadLetters``).

  Payloads of raw-input stages (read, parse, validate, user, and any stage of your own), per
  ``mode``:

  - ``mask`` (default): a payload that parses as a JSON object is masked with the policy
    (tolerantly: a value a method cannot handle becomes ``[REDACTED]``; kept values and
    unknown fields under ``default: keep`` are pattern-redacted). JSON-like text that does
    not parse (truncated, invalid UTF-8) is scrubbed token by token: every value is
    ``[REDACTED]`` unless its place (the path of keys around it) is a kept field and it is
    complete and valid for its type; under ``default: drop`` a key the schema lacks becomes
    ``[REDACTED]`` too. A CSV record (attribute
    ``format: csv``, or any raw payload when ``csv`` is given) is mapped onto its
    ``csv_columns`` attribute (else ``csv.columns``), masked with the policy as text cells and
    written back as CSV with the kept columns (``csv_columns`` updated). Anything else (not
    JSON, or CSV that does not map onto its columns) is replaced by a keyed hash.
  - ``redact``: pattern redaction only (e-mails, phones, IPs, card numbers, IBANs); names,
    ids and other unshaped values survive. Readable, weaker.
  - ``drop``: the payload is replaced by ``hmac-sha256:<key_id>:<hex>``.

  Later stages (mask, enrich, window, quality, sink) carry rows MaskPII already masked; their payload
  is kept (pattern-redacted for sink). For every record, ``errorMessage`` and ``stacktrace``
  have quoted values, the payload's own non-kept values and patterned data removed;
  attribute values are pattern-redacted; attributes ``masking_key_id`` and
  ``payload_masking`` (policy/scrubbed/redacted/hashed/premasked) are added. Dead letters
  whose payload names an erased subject are dropped and counted (``mask/erased``).

  ``row_paths``: dotted paths inside a JSON payload where rows sit in an envelope (a CDC
  event's ``after`` and ``before``, ``payload.after``...). The rows found there are masked
  by the policy as rows (and checked against the erase list); the rest of the envelope is
  masked as unknown fields (the policy's ``default``). Without it the payload is the row.
  """

  def __init__(self, schema, policy, key, *, mode='mask', subject_field=None, erase_ids=None,
               csv=None, row_paths=None, pipeline_name=None, label=None):
    super().__init__(label)
    schema, policy = schema_and_policy('MaskDeadLetters', schema, policy)
    self._row_paths = tuple(row_paths or ())
    if csv is not None and not isinstance(csv, csvf.CsvFormat):
      raise ValueError(f'csv must be a CsvFormat, got {type(csv).__name__}')
    self._csv = csv
    if mode not in DEAD_LETTER_PAYLOAD_MODES:
      raise ValueError(f'dead_letter_payload must be one of {DEAD_LETTER_PAYLOAD_MODES}, '
                       f'got {mode!r}')
    self._bound = bind_if_needed(policy, schema)
    self._key = check_key(key, self._bound)
    if subject_field:
      subject_getter(self._bound.schema, subject_field)
    self._mode = mode
    self._subject_field = subject_field
    self._erase_ids = erase_ids
    self._pipeline_name = pipeline_name

  def expand(self, dead_letters):
    if isinstance(dead_letters, (tuple, list)):
      dead_letters = dead_letters | 'Flatten' >> beam.Flatten()
    side, static = erase_side_input(self._erase_ids)
    return typed_dead_letters(dead_letters | 'Mask' >> beam.ParDo(
        MaskDeadLettersFn(self._bound, self._key, self._mode, self._subject_field, static,
                          self._csv, pipeline_name_of(dead_letters.pipeline,
                                                      self._pipeline_name),
                          self._row_paths),
        **side).with_output_types(DeadLetter))
