"""Generated schemas, masking policies and records with known PII placed anywhere a user's data
can put it; and the scan that says where a PII string came out. Shared by the property test
(``tests/property/test_masking_leak_properties.py``) and the end-to-end one
(``tests/e2e/test_masking_leak_properties_e2e.py``).

PII is drawn from fixed pools of made-up but distinctive strings (``NAMES``, ``EMAILS``...),
so a scan for them (and for their distinctive parts: ``needles``) cannot match anything the
pipeline makes up. A PII string is only ever placed where the policy does not approve it:
never as a *valid* value of a field the policy keeps, never in a field unknown to the schema
when the policy's ``default`` is ``keep``. So any occurrence in any output is a leak, with
one documented exception: ``--dead_letter_payload redact`` is pattern redaction only, so
unshaped PII (names, ids) may stay in the payload of a raw-input dead letter, and nowhere
else (``allowed_in_payload``).
"""

import io
import json
import logging
import re

from hypothesis import assume
from hypothesis import strategies as st

# ---- the PII pools -------------------------------------------------------------------------

NAMES = ['Zorbath Quillfeather', 'Vexmira Thornwick', 'Ulfric Dambrosky', 'Ysolde Merrivane',
         'Cassiel Ondrejka', 'Brannoch Pellwright']
IDS = ['subj-LEAKID-4417', 'subj-LEAKID-9023']
EMAILS = ['zorbath.q@leak-mail.example', 'vexmira.t77@leak-mail.example',
          'ulfric.dambro@leak-mail.example']
PHONES = ['+44 20 7946 0958', '+33 1 70 36 39 50']
IPS = ['198.51.100.23', '2001:db8::8a2e:370:7334']
CARDS = ['4111 1111 1111 1111']
UNSHAPED = NAMES + IDS
SHAPED = EMAILS + PHONES + IPS + CARDS
ALL_PII = UNSHAPED + SHAPED


def _needles(value):
  """The strings whose presence shows ``value`` leaked: the value itself and its distinctive
  parts (each word of a name, an e-mail's local part, a phone's or card's digits)."""
  out = {value}
  if value in NAMES:
    out.update(value.split())
  elif value in EMAILS:
    out.add(value.split('@')[0])
  elif value in PHONES or value in CARDS:
    out.add(re.sub(r'\D', '', value))
  return out


NEEDLES = {needle: value for value in ALL_PII for needle in _needles(value)}
SHAPED_NEEDLES = {n for n, v in NEEDLES.items() if v in SHAPED}


def find_pii(text):
  """The needles found in ``text`` (sorted)."""
  return sorted(n for n in NEEDLES if n in text)


def scan(haystacks, allowed_in_payload=False):
  """[(where, needle)] for every needle in every haystack (``{where: text}``). With
  ``allowed_in_payload`` (redact mode), in haystacks whose name starts with ``payload`` only
  whole shaped values count (an e-mail, a phone...): unshaped needles are allowed there, and
  so are parts of shaped ones (an e-mail's local part left when a truncated payload cut the
  address: it has no shape left to find)."""
  found = []
  for where, text in haystacks.items():
    for needle in find_pii(text):
      if (allowed_in_payload and where.startswith('payload')
          and (needle not in SHAPED_NEEDLES or NEEDLES[needle] != needle)):
        continue
      found.append((where, needle))
  return found


class CollectLogs:
  """Collects every log line (any logger, ``level`` and above) written while it is open."""

  def __init__(self, level=logging.DEBUG):
    self._wanted = level

  def __enter__(self):
    self.stream = io.StringIO()
    self.handler = logging.StreamHandler(self.stream)
    self.handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    self.level = root.level
    root.addHandler(self.handler)
    root.setLevel(self._wanted)
    return self

  def __exit__(self, *exc):
    root = logging.getLogger()
    root.removeHandler(self.handler)
    root.setLevel(self.level)

  @property
  def text(self):
    return self.stream.getvalue()


# ---- schemas and policies ------------------------------------------------------------------

# Field names: innocuous words, reused across levels so a key can name a field elsewhere.
FIELD_NAMES = ['alpha', 'beta', 'gamma', 'delta', 'kappa', 'sigma']
LEAF_TYPES = ['STRING', 'INT64', 'DATE', 'TIMESTAMP', 'BOOL']
LEAF_METHODS = {
    'STRING': ['keep', 'hmac', 'tokenize', 'redact', {'method': 'partial', 'keep_last': 2},
               'drop', None],
    'INT64': ['keep', 'hmac', {'method': 'generalize', 'to': 'bucket', 'size': 10}, 'drop',
              None],
    'DATE': ['keep', 'hmac', {'method': 'generalize', 'to': 'year'}, 'drop', None],
    'TIMESTAMP': ['keep', {'method': 'generalize', 'to': 'month'}, 'drop', None],
    'BOOL': ['keep', 'drop', None],
}
FILLER = {'STRING': 'plain-text', 'INT64': 7, 'DATE': '2020-02-02',
          'TIMESTAMP': '2020-02-02T10:00:00Z', 'BOOL': True}


def _fields(depth, flat):
  leaf = st.builds(lambda n, t, m: {'name': n, 'type': t, 'mode': m},
                   st.sampled_from(FIELD_NAMES), st.sampled_from(LEAF_TYPES),
                   st.sampled_from(['NULLABLE'] if flat else ['NULLABLE', 'REPEATED']))
  kinds = leaf
  if depth < 2 and not flat:
    record = st.builds(
        lambda n, m, sub: {'name': n, 'type': 'RECORD', 'mode': m, 'fields': sub},
        st.sampled_from(FIELD_NAMES), st.sampled_from(['NULLABLE', 'REPEATED']),
        st.deferred(lambda: _fields(depth + 1, flat)))
    kinds = st.one_of(leaf, record)
  return st.lists(kinds, min_size=1, max_size=4, unique_by=lambda f: f['name'])


def schemas(flat=False):
  """BigQuery schemas (lists of fields): leaves of a few types, NULLABLE and REPEATED,
  RECORDs two deep; ``flat``: leaves only, NULLABLE (CSV)."""
  return _fields(0, flat)


@st.composite
def policies(draw, schema, defaults=('drop', 'keep')):
  """A policy dict for ``schema``: every field keep/drop/unlisted or a method that fits its
  type; RECORDs kept, dropped, unlisted or with rules for their fields."""
  rules = {}

  def visit(fields, prefix):
    for f in fields:
      path = prefix + f['name']
      if f['type'] == 'RECORD':
        choice = draw(st.sampled_from(['keep', 'drop', 'unlisted', 'named', 'keep+named']))
        if choice in ('keep', 'drop', 'keep+named'):
          rules[path] = choice.split('+')[0]
        if choice.endswith('named'):
          visit(f['fields'], path + '.')
        continue
      method = draw(st.sampled_from(LEAF_METHODS[f['type']]))
      if method is not None:
        rules[path] = method
  visit(schema, '')
  return {'version': 1, 'default': draw(st.sampled_from(list(defaults))), 'fields': rules}


def bound_or_reject(schema, policy):
  """The BoundPolicy, or the example is rejected (a policy dropping every field)."""
  from beam_pipelines.transforms.masking import bind_policy
  try:
    return bind_policy(policy, {'fields': schema})
  except ValueError as e:
    assume('drops every field' not in str(e))
    raise


def kept(bound, path):
  """True when the policy keeps the (known) field at ``path`` unmasked."""
  nodes = bound.nodes
  for part in path:
    node = next((n for n in nodes if n.spec.name.lower() == part.lower()), None)
    if node is None:
      return False
    if node.method in ('keep', 'keep_all'):
      return True
    if node.method != 'record':
      return False
    nodes = node.children
  return False


# ---- records -------------------------------------------------------------------------------

def pii_strings():
  """A PII string, alone or inside free text."""
  one = st.sampled_from(ALL_PII)
  text = st.builds(lambda a, b: f'note for {a} <{b}>, call back', st.sampled_from(NAMES),
                   st.sampled_from(EMAILS + PHONES))
  return st.one_of(one, one, text)


def _not_valid_anywhere():
  """PII that is no valid value of any non-STRING type (names, e-mails, free text)."""
  return st.one_of(st.sampled_from(NAMES + EMAILS + IDS),
                   st.builds(lambda a: f'see {a}', st.sampled_from(NAMES)))


@st.composite
def _unknown_entries(draw, default, known_elsewhere, min_size=0):
  """{key: value} of fields the schema does not know at one level (at least ``min_size``
  under ``default: drop``). Under ``default: keep`` they are approved: innocuous only."""
  if default == 'keep':
    return draw(st.dictionaries(st.sampled_from(['zz_extra', 'zz_more']),
                                st.sampled_from(['fine', 3, None]), max_size=1))
  keys = st.one_of(st.sampled_from(NAMES + EMAILS), st.sampled_from(['zz_extra', 'note']),
                   st.sampled_from(known_elsewhere or ['zz_other']))
  deep = st.recursive(pii_strings(), lambda c: st.dictionaries(
      st.one_of(st.sampled_from(NAMES + EMAILS), st.sampled_from(FIELD_NAMES)), c,
      min_size=1, max_size=2) | st.lists(c, min_size=1, max_size=2), max_leaves=4)
  return draw(st.dictionaries(keys, st.one_of(pii_strings(), deep, st.just('fine')),
                              min_size=min_size, max_size=2))


@st.composite
def records(draw, schema, bound, all_names=None):
  """A record for ``schema`` (dict) with PII in every place the policy does not approve:
  masked fields, wrongly typed values (also in kept fields), unknown keys and values at any
  depth (default drop), arrays where scalars belong and the other way round."""
  default = bound.policy.default
  all_names = all_names or FIELD_NAMES

  def pick(*options):
    return options[draw(st.integers(0, len(options) - 1))]

  def record_value(f, path):
    how = pick('none', 'object', 'object', 'text', 'list')
    if how == 'none':
      return None
    if how == 'text':
      return draw(_not_valid_anywhere())
    if how == 'list' or (f['mode'] == 'REPEATED' and draw(st.booleans())):
      return [obj(f['fields'], path) for _ in range(draw(st.integers(0, 2)))]
    return obj(f['fields'], path)

  def scalar(f, path):
    choices = [st.none(), st.just(FILLER[f['type']])]
    if not kept(bound, path):
      choices.append(pii_strings())
    elif f['type'] != 'STRING':
      choices.append(_not_valid_anywhere())  # a kept column keeps valid values only
    choices.append(st.dictionaries(st.sampled_from(['x', 'who']), pii_strings(),
                                   min_size=1, max_size=1))  # an object for a scalar
    return draw(st.one_of(*choices))

  def leaf_value(f, path):
    if pick('one', 'one', 'list') == 'list' or f['mode'] == 'REPEATED':
      if f['mode'] == 'REPEATED' and draw(st.integers(0, 3)) == 0:
        return scalar(f, path)  # a scalar where an array belongs
      return [scalar(f, path) for _ in range(draw(st.integers(0, 2)))]
    return scalar(f, path)

  def obj(fields, prefix):
    out = {}
    for f in fields:
      if draw(st.booleans()):
        key = f['name'].upper() if draw(st.integers(0, 5)) == 0 else f['name']
        path = prefix + (f['name'],)
        out[key] = record_value(f, path) if f['type'] == 'RECORD' else leaf_value(f, path)
    names = {f['name'] for f in fields}
    elsewhere = [n for n in all_names if n not in names]
    # Under a kept RECORD (issue 17's first hole) there is always something to leak.
    under_kept = bool(prefix) and kept(bound, prefix)
    out.update({k: v for k, v in draw(_unknown_entries(default, elsewhere,
                                                       int(under_kept))).items()
                if k.lower() not in names})
    return out

  return obj(schema, ())


def all_field_names(schema):
  names = set()
  for f in schema:
    names.add(f['name'])
    names.update(all_field_names(f.get('fields', [])))
  return sorted(names)


@st.composite
def jsonl_payloads(draw, record):
  """The record as a JSONL payload: valid, truncated, with an invalid UTF-8 byte, or an
  array instead of an object."""
  text = json.dumps(record, ensure_ascii=False).encode('utf-8')
  how = draw(st.sampled_from(['valid', 'valid', 'truncated', 'bad_utf8', 'array']))
  if how == 'truncated' and len(text) > 2:
    return text[:draw(st.integers(1, len(text) - 1))]
  if how == 'bad_utf8':
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + b'\xff' + text[cut:]
  if how == 'array':
    return json.dumps([record, draw(pii_strings())]).encode('utf-8')
  return text


# ---- CSV -----------------------------------------------------------------------------------

@st.composite
def csv_files(draw, schema, bound):
  """(header cells, [record lines]) of one CSV file for a flat schema: the header has the
  schema's columns in any order plus unknown columns (named after PII when the policy's
  default is drop); records have PII in cells the policy does not approve, wrong cell counts,
  stray quotes and invalid UTF-8."""
  import csv
  import io
  default = bound.policy.default
  names = [f['name'] for f in schema]
  columns = draw(st.permutations(names))
  extra_names = (NAMES + ['zz_extra'] if default == 'drop' else ['zz_extra'])
  columns = list(columns) + draw(st.lists(st.sampled_from(extra_names), max_size=2,
                                          unique=True))
  types = {f['name']: f['type'] for f in schema}

  def cell(column):
    if column not in types:
      return draw(pii_strings()) if default == 'drop' else 'fine'
    options = [st.just(''), st.just(str(FILLER[types[column]]).lower()
                                    if types[column] == 'BOOL' else str(FILLER[types[column]]))]
    if not kept(bound, (column,)):
      options.append(pii_strings())
    elif types[column] != 'STRING':
      options.append(_not_valid_anywhere())
    return draw(st.one_of(*options))

  def line(cells):
    out = io.StringIO()
    csv.writer(out, lineterminator='').writerow(cells)
    return out.getvalue().encode('utf-8')

  lines = []
  for _ in range(draw(st.integers(1, 4))):
    cells = [cell(c) for c in columns]
    how = draw(st.sampled_from(['valid', 'valid', 'extra_cell', 'stray_quote', 'bad_utf8']))
    if how == 'extra_cell':
      cells.append(draw(pii_strings()))
    raw = line(cells)
    if how == 'stray_quote':
      pii = draw(st.sampled_from(NAMES))
      raw = raw + b',"' + pii.encode() + b'" jr'
    if how == 'bad_utf8':
      cut = draw(st.integers(0, len(raw)))
      raw = raw[:cut] + b'\xff' + raw[cut:]
    lines.append(raw.replace(b'\n', b' ').replace(b'\r', b' '))
  return columns, lines


# ---- attributes ----------------------------------------------------------------------------

@st.composite
def attributes(draw, default):
  """Pub/Sub-style attributes: innocuous ones, and (default drop) PII values and PII keys."""
  out = {'source': 'app'}
  if default == 'drop':
    out.update(draw(st.dictionaries(
        st.one_of(st.sampled_from(['customer', 'origin']), st.sampled_from(NAMES + EMAILS)),
        pii_strings(), max_size=2)))
  return out


def error_type_ok(error_type, schema):
  """True when an errorType is a fixed code, or a code and a schema path (with
  ``<unknown#N>`` for a key the schema does not know)."""
  if error_type is None:
    return True
  paths = set()

  def walk(fields, prefix):
    for f in fields:
      paths.add(prefix + f['name'])
      walk(f.get('fields', []), prefix + f['name'] + '.')
  walk(schema, '')
  kind, _, rest = error_type.partition(':')
  if not re.fullmatch(r'[a-z_]+', kind):
    return False
  if not rest:
    return True
  if kind in ('unsupported_element', 'exception', 'udf_error', 'not_a_dead_letter'):
    return re.fullmatch(r'[A-Za-z_]+', rest) is not None  # a Python type name
  rest = re.sub(r'(^|\.)<unknown#\d+>$', '', rest)
  return rest == '' or rest in paths
