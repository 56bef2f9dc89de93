"""A bound masking policy compiled into functions: ``compile_row_masker`` for validated rows
(strict: every value has its schema type) and ``compile_lenient_masker`` for the payloads of
dead letters (anything may be there: wrong types, unknown fields, half a record).

The lenient masker never lets a value through that the policy would not keep: a value of the
wrong type under a masked field is redacted, an unparseable value is scrubbed by pattern.

Fields the schema does not know, at any depth (under a kept, masked or unlisted RECORD
alike), are never in a masked row, and follow the policy's ``default`` in a dead letter's
payload: ``keep`` on a RECORD keeps the RECORD's *known* fields, not whatever the input adds
under it.
"""

from beam_pipelines.transforms.masking.binding import child_nodes
from beam_pipelines.transforms.masking.methods.common import REDACTED, canonical_text
from beam_pipelines.transforms.masking.patterns import redact_patterns
from beam_pipelines.transforms.masking.policy import METHODS

# ---- compiled maskers ---------------------------------------------------------------------

def compile_row_masker(bound, keys):
  """A function row -> masked row for validated rows (BigQuery JSON form).

  Compiled once per worker: per row it is one dict build per RECORD level; a kept sub-tree
  is shared, not copied, unless it holds a key the schema does not know (then it is rebuilt
  with its known fields only).
  """
  return _compile_nodes(bound.nodes, keys)


def _compile_nodes(nodes, keys):
  entries = []
  for n in nodes:
    if n.method == 'drop':
      continue
    if n.method == 'keep' and n.spec.type != 'RECORD':
      entries.append((n.spec.name, None))
      continue
    if n.method == 'keep':
      fn = _known_fields_only(n.spec)
    elif n.method == 'record':
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


def _known_fields_only(spec):
  """A function: a kept RECORD's value -> the same value without keys its schema lacks, at
  any depth (the value itself, not a copy, when it has none)."""
  names = frozenset(f.name for f in spec.fields)
  nested = tuple((f.name, f.repeated, _known_fields_only(f)) for f in spec.fields
                 if f.type == 'RECORD')

  def known(obj):
    if not isinstance(obj, dict):
      return obj  # (validated rows: a RECORD is a dict)
    out = obj if obj.keys() <= names else {k: v for k, v in obj.items() if k in names}
    for name, repeated, fn in nested:
      value = out.get(name)
      if value is None:
        continue
      masked = [fn(v) for v in value] if repeated else fn(value)
      if (any(m is not v for m, v in zip(masked, value, strict=True)) if repeated
          else masked is not value):
        out = dict(out) if out is obj else out
        out[name] = masked
    return out
  return known


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
  fields at any depth (under kept RECORDs too) follow the policy default (``keep`` ->
  pattern-redacted, ``drop`` -> removed, key and value). A kept RECORD whose value is not an
  object is redacted. ``text_input``: values are CSV cell text (``"42"`` is a valid
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
    elif n.method == 'keep' and n.spec.type == 'RECORD':
      # its known fields, kept; what the input adds under it follows the default
      fn = _lenient_nodes(child_nodes(n.spec, 'keep'), keys, default, text_input)
    elif n.method == 'keep':
      fn = (_scrub_kept if n.spec.type in ('STRING', 'JSON')
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
      if n.spec.type == 'STRING' and isinstance(value, (dict, list)):
        return REDACTED  # nor is an object or an array a STRING
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


def compile_kept_text_checks(bound):
  """``{lower-case dotted path: check}`` for the leaves ``bound`` keeps: ``check(text)`` is
  True when ``text`` (a value read out of unparseable JSON or CSV) is a valid value of the
  field's type, so ``keep`` covers it (None: any text, STRING and JSON fields)."""
  checks = {}
  for path, spec in bound.kept_paths().items():
    if spec.type in ('STRING', 'JSON'):
      checks[path] = None
    else:
      kept = _kept_if_valid(spec, text_input=True)
      checks[path] = lambda text, kept=kept: kept(text) != REDACTED
  return checks


def _guarded(fn):
  def guarded(value):
    try:
      return fn(value)
    except Exception:  # pylint: disable=broad-except  (a raw value the method cannot read)
      return REDACTED
  return guarded
