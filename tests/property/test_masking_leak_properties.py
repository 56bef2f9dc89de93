"""Property: with a masking policy, no raw PII string the policy has not approved reaches any
output of the library's masking chain, whatever the schema, the policy and the records.

For generated schemas, policies and records (``tests/pii_model.py``: PII in values of known,
unknown, nested, repeated and wrongly typed fields, in keys, inside free text, in malformed
JSON and CSV records, in attributes), each record goes through the steps the pipelines chain
(``ParseAndValidateFn`` -> the row masker of ``MaskPII`` -> ``MaskDeadLettersFn``, run as
plain functions: hundreds of examples in seconds) and every output is scanned: rows, each
dead-letter field, the counter names its errorType makes (``dead_letters/<errorType>``) and
the log lines. ``tests/e2e/test_masking_leak_properties_e2e.py`` runs the same model through
whole pipelines into the BigQuery emulator and file sinks.
"""

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pii_model import (CollectLogs, all_field_names, attributes, bound_or_reject, csv_files,
                       error_type_ok, jsonl_payloads, policies, records, scan, schemas)

from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.masking import MaskingKey
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.mask_dead_letters import MaskDeadLettersFn
from beam_pipelines.transforms.masking.maskers import compile_row_masker
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.validate.parse import ParseAndValidateFn, ParseConfig
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy

KEY = MaskingKey('env:PROPERTY_KEY', b'property-test-key-0123456789abcdef')
MODES = ['mask', 'redact', 'drop']
UNKNOWN = ['ignore', 'dead_letter', 'schema_drift']
SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _split(outputs):
  rows, dead = [], []
  for out in outputs:
    if hasattr(out, 'tag'):
      dead.append(out.value)
    else:
      rows.append(out)
  return rows, dead


def run_library_chain(schema, bound, mode, messages, parse, csv=None, raw_rows=()):
  """(haystacks by place, error types): the chain's steps run as functions on
  ``messages``."""
  with CollectLogs() as logs:
    errors = []
    try:
      parser = ParseAndValidateFn(load_schema({'fields': schema}), parse, 'property')
      parser.setup()
      rows, dead = _split(out for m in messages for out in parser.process(m))
      keys = DerivedKeys(KEY)
      mask_row = compile_row_masker(bound, keys)
      masked = [mask_row(r) for r in list(rows) + list(raw_rows)]
      masker = MaskDeadLettersFn(bound, KEY, mode, None, None, csv, 'property')
      masker.setup()
      dead = [out for d in dead for out in masker.process(d)]
    except Exception as e:  # its text is scanned too, then it fails the test
      errors.append(f'{type(e).__name__}: {e}')
      masked, dead = [], []
  haystacks = {'rows': json.dumps(masked, ensure_ascii=False, default=str),
               'log lines': logs.text, 'exceptions': '\n'.join(errors)}
  for i, d in enumerate(dead):
    haystacks[f'payload #{i}'] = d['payloadString'] + base64.b64decode(
        d['payloadBytes']).decode('utf-8', 'replace')
    for field in ('errorType', 'errorMessage', 'stacktrace', 'attributes', 'sourceId'):
      haystacks[f'{field} #{i}'] = json.dumps(d[field], ensure_ascii=False)
  haystacks['counter names'] = '\n'.join(f'dead_letters/{d["errorType"]}' for d in dead)
  return haystacks, [d['errorType'] for d in dead]


def check_no_leak(haystacks, mode):
  """One assertion per kind of place, so that Hypothesis reports each kind of leak as its
  own failure (with its own smallest example)."""
  leaks = scan(haystacks, allowed_in_payload=mode == 'redact')

  def at(*prefixes):
    return [leak for leak in leaks if leak[0].startswith(prefixes)]
  assert not haystacks['exceptions'], haystacks['exceptions']
  assert at('errorType', 'counter names') == []
  assert at('errorMessage', 'stacktrace') == []
  assert at('attributes', 'sourceId') == []
  assert at('payload') == []
  assert at('rows') == []
  assert at('log lines') == []
  assert leaks == []


@st.composite
def json_cases(draw):
  schema = draw(schemas())
  policy = draw(policies(schema))
  bound = bound_or_reject(schema, policy)
  names = all_field_names(schema)
  recs = draw(st.lists(records(schema, bound, names), min_size=1, max_size=4))
  messages = [RawMessage(draw(jsonl_payloads(r)), draw(attributes(policy['default'])),
                         f'src:{i}', 0.0, None) for i, r in enumerate(recs)]
  return schema, bound, recs, messages


@SETTINGS
@given(case=json_cases(), mode=st.sampled_from(MODES), unknown=st.sampled_from(UNKNOWN))
def test_no_unapproved_pii_leaves_the_masking_chain_json(case, mode, unknown):
  schema, bound, recs, messages = case
  parse = ParseConfig(policy=ValidationPolicy(unknown_fields=unknown))
  # MaskPII also takes dicts of one's own: records valid apart from fields the schema lacks.
  lenient = RecordValidator({'fields': schema}, ValidationPolicy(unknown_fields='ignore'))
  raw_rows = [r for r in recs if not lenient.validate(r)[1]]
  haystacks, error_types = run_library_chain(schema, bound, mode, messages, parse,
                                             raw_rows=raw_rows)
  check_no_leak(haystacks, mode)
  assert [t for t in error_types if not error_type_ok(t, schema)] == []


@st.composite
def csv_cases(draw):
  schema = draw(schemas(flat=True))
  policy = draw(policies(schema))
  bound = bound_or_reject(schema, policy)
  header, lines = draw(csv_files(schema, bound))
  attrs = dict(draw(attributes(policy['default'])), file='in.csv', format='csv',
               csv_columns=json.dumps(header, ensure_ascii=False))
  messages = [RawMessage(line, attrs, f'in.csv:{i + 2}', 0.0, None)
              for i, line in enumerate(lines)]
  return schema, bound, messages


@SETTINGS
@given(case=csv_cases(), mode=st.sampled_from(MODES),
       unknown=st.sampled_from(['ignore', 'dead_letter']))
def test_no_unapproved_pii_leaves_the_masking_chain_csv(case, mode, unknown):
  schema, bound, messages = case
  csv = CsvFormat()
  parse = ParseConfig(format='csv', csv=csv, policy=ValidationPolicy(unknown_fields=unknown))
  haystacks, error_types = run_library_chain(schema, bound, mode, messages, parse, csv=csv)
  check_no_leak(haystacks, mode)
  assert [t for t in error_types if not error_type_ok(t, schema)] == []
