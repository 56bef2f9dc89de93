"""A bound masking policy compiled into functions: ``compile_row_masker`` for validated rows
(strict: every value has its schema type) and ``compile_lenient_masker`` for the payloads of
dead letters (anything may be there: wrong types, unknown fields, half a record).

The lenient masker never lets a value through that the policy would not keep: a value of the
wrong type under a masked field is redacted, an unparseable value is scrubbed by pattern.
"""

from beam_pipelines.transforms.masking.methods.common import REDACTED, canonical_text
from beam_pipelines.transforms.masking.patterns import redact_patterns
from beam_pipelines.transforms.masking.policy import METHODS

# ---- compiled maskers ---------------------------------------------------------------------

def compile_row_masker(bound, keys):
  """A function row -> masked row for validated rows (BigQuery JSON form).

  Compiled once per worker: per row it is one dict build per RECORD level, and no work at all
  for kept sub-trees (they are shared, not copied).
  """
  return _compile_nodes(bound.nodes, keys)


def _compile_nodes(nodes, keys):
  entries = []
  for n in nodes:
    if n.method == 'drop':
      continue
    if n.method == 'keep':
      entries.append((n.spec.name, None))
      continue
    if n.method == 'record':
      fn = _compile_nodes(n.children, keys)
    else:
      fn = METHODS[n.method].compile(n.spec, n.params, keys)
    if n.spec.repeated:
      fn = _each(fn)
    entries.append((n.spec.name, fn))
  entries = tuple(entries)

  def mask_record(obj):
    out = {}
    for name, fn in entries:
      if name in obj:
        value = obj[name]
        out[name] = value if fn is None or value is None else fn(value)
    return out
  return mask_record


def _each(fn):
  def each(values):
    out = []
    for value in values:
      masked = fn(value)
      if masked is not None:  # arrays cannot hold NULL (generalize of a non-IP -> dropped)
        out.append(masked)
    return out
  return each


def compile_lenient_masker(bound, keys, text_input=False):
  """A function obj -> masked obj for *raw* decoded payloads (dead letters).

  Raw payloads failed validation: types may be wrong, names may differ in case, unknown
  fields may be present. Every value goes through the policy anyway: a value a method cannot
  handle is replaced by ``[REDACTED]``; kept values still go through pattern redaction; unknown
  fields follow the policy default (``keep`` -> pattern-redacted). A kept RECORD whose value
  is not an object is redacted. ``text_input``: values are CSV cell text (``"42"`` is a valid
  INT64 to keep).
  """
  return _lenient_nodes(bound.nodes, keys, bound.policy.default, text_input)


def _scrub_kept(value):
  if isinstance(value, str):
    return redact_patterns(value)
  if isinstance(value, dict):
    return {k: _scrub_kept(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_scrub_kept(v) for v in value]
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    text = redact_patterns(canonical_text(value))
    return value if text == canonical_text(value) else text
  return value


def _lenient_nodes(nodes, keys, default, text_input=False):
  by_name = {}
  for n in nodes:
    if n.method in ('drop',):
      fn = None
    elif n.method == 'keep':
      fn = (_scrub_kept if n.spec.type in ('RECORD', 'STRING', 'JSON')
            else _kept_if_valid(n.spec, text_input))
    elif n.method == 'record':
      fn = _lenient_nodes(n.children, keys, default, text_input)
    else:
      fn = _guarded(METHODS[n.method].compile(n.spec, n.params, keys))
    by_name[n.spec.name.lower()] = (n, fn)

  def apply(n, fn, value):
    if n.method == 'record':
      return fn(value) if isinstance(value, dict) else REDACTED
    if n.method == 'keep':
      if n.spec.type == 'RECORD' and not isinstance(value, dict):
        return REDACTED  # not a valid value of a RECORD: keep does not cover it
      return fn(value)
    if isinstance(value, list) or (isinstance(value, dict)
                                   and n.spec.type not in ('JSON', 'RANGE')):
      return REDACTED
    return fn(value)

  def mask_record(obj):
    out = {}
    for key, value in obj.items():
      entry = by_name.get(key.lower()) if isinstance(key, str) else None
      if entry is None:
        if default == 'keep':
          out[key] = _scrub_kept(value)
        continue
      n, fn = entry
      if n.method == 'drop':
        continue
      if value is None:
        out[key] = None
      elif n.spec.repeated and isinstance(value, list):
        out[key] = [None if v is None else apply(n, fn, v) for v in value]
      else:
        out[key] = apply(n, fn, value)
    return out
  return mask_record


def _kept_if_valid(spec, text_input=False):
  """``keep`` says the column's *valid* values are not personal data. In a dead letter a value
  that is not a valid value of its type (a name in a TIMESTAMP column) is redacted."""
  from beam_pipelines.transforms.validate.bq_types import CONVERTERS
  from beam_pipelines.transforms.validate.field_error import FieldError
  from beam_pipelines.transforms.validate.validator import ValidationPolicy
  convert = CONVERTERS[spec.type]
  policy = ValidationPolicy(non_finite_floats='allow', text_input=text_input)

  def kept(value):
    if isinstance(value, list) or (isinstance(value, dict) and spec.type != 'RANGE'):
      return REDACTED
    try:
      convert(value, spec, policy)
    except (FieldError, Exception):  # pylint: disable=broad-except
      return REDACTED
    return _scrub_kept(value)
  return kept


def _guarded(fn):
  def guarded(value):
    try:
      return fn(value)
    except Exception:  # pylint: disable=broad-except  (a raw value the method cannot read)
      return REDACTED
  return guarded
