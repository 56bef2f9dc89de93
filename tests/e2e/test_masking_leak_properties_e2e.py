"""Property, end to end: generated schemas, policies and records with PII placed anywhere a
user's data can put it (``tests/pii_model.py``) run through whole pipelines with a masking
policy, into the BigQuery emulator and the file sinks; no raw PII the policy has not approved
may appear in any table, file, counter, summary, printed output, log line or exception text,
for every dead-letter payload mode.

Each example batches many generated records into one pipeline run (a bounded number of runs:
``max_examples`` per format and mode); ``tests/property/test_masking_leak_properties.py``
runs many more examples of the same model through the library's steps without a pipeline.
``--dead_letter_payload redact`` is pattern redaction only: unshaped PII (names, ids) may stay
in raw-input payloads there, and nowhere else (docs/gdpr.md).
"""

import base64
import csv
import glob
import io
import json
import logging
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pii_model import (CollectLogs, all_field_names, attributes, bound_or_reject, csv_files,
                       error_type_ok, jsonl_payloads, pii_strings, policies, records, scan,
                       schemas)
from streaming_helpers import publish, table_rows, wait_for

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery

pytestmark = pytest.mark.emulator

KEY_VARIABLE = 'LEAK_PROPERTY_MASKING_KEY'
SETTINGS = dict(deadline=None, database=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
    HealthCheck.filter_too_much])


def _dead_letter_haystacks(dead):
  out = {}
  for i, d in enumerate(dead):
    raw = d['payloadBytes']
    raw = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
    out[f'payload #{i}'] = d['payloadString'] + raw.decode('utf-8', 'replace')
    rest = {k: v for k, v in d.items() if k not in ('payloadString', 'payloadBytes')}
    out[f'dead letter #{i}'] = json.dumps(rest, ensure_ascii=False, default=str)
  return out


def _read_jsonl(pattern):
  out = []
  for name in sorted(glob.glob(pattern)):
    with open(name, encoding='utf-8') as f:
      out += [json.loads(line) for line in f if line.strip()]
  return out


@st.composite
def runs(draw, input_format):
  """One pipeline run: (schema, policy, input file contents, options)."""
  flat = input_format == 'csv'
  schema = draw(schemas(flat=flat))
  policy = draw(policies(schema))
  bound = bound_or_reject(schema, policy)
  if flat:
    files = [draw(csv_files(schema, bound)) for _ in range(draw(st.integers(1, 3)))]
  else:
    names = all_field_names(schema)
    recs = draw(st.lists(records(schema, bound, names), min_size=6, max_size=14))
    files = [[draw(jsonl_payloads(r)) for r in recs]]
  unknown = draw(st.sampled_from([['--unknown_fields', 'dead_letter'],
                                  ['--unknown_fields', 'ignore'],
                                  ['--schema_drift', 'dead_letter']]))
  sinks = draw(st.sampled_from(['bigquery', 'files']))
  return schema, policy, files, unknown, sinks


def _write_inputs(folder, input_format, files):
  lines = 0
  for i, content in enumerate(files):
    if input_format == 'csv':
      header, records = content
      out = io.StringIO()
      csv.writer(out, lineterminator='').writerow(header)
      body = [out.getvalue().encode('utf-8')] + records
    else:
      body = content
    lines += len(content[1]) if input_format == 'csv' else len(content)
    with open(os.path.join(folder, f'in-{i}.{input_format}'), 'wb') as f:
      f.write(b'\n'.join(body) + b'\n')
  return os.path.join(folder, f'in-*.{input_format}'), lines


def _run_case(tmp_path, capfd, bq_client, bq_dataset, project, input_format, mode, case):
  schema, policy, files, unknown, sinks = case
  folder = tmp_path / uuid.uuid4().hex[:8]
  folder.mkdir()
  pattern, records_in = _write_inputs(str(folder), input_format, files)
  (folder / 'schema.json').write_text(json.dumps(schema))
  (folder / 'policy.json').write_text(json.dumps(policy))
  table = f'{bq_dataset}.t_{folder.name}'
  argv = ['--input', pattern, '--input_format', input_format,
          '--schema', str(folder / 'schema.json'),
          '--masking_policy', str(folder / 'policy.json'),
          '--masking_key_source', f'env:{KEY_VARIABLE}', '--dead_letter_payload', mode,
          *unknown]
  if sinks == 'bigquery':
    argv += ['--output_table', f'{project}:{table}']
  else:
    argv += ['--output_path', str(folder / 'lake' / 'rows'), '--output_format', 'jsonl']
  capfd.readouterr()
  errors, summary = [], {}
  with CollectLogs(logging.INFO) as logs:
    try:
      _, summary = files_to_bigquery.run(argv, print_summary=True)
    except BaseException as e:  # pylint: disable=broad-except  (scanned, then fails)
      errors.append(f'{type(e).__name__}: {e}')
  printed = capfd.readouterr()
  haystacks = {'summary': json.dumps(summary, ensure_ascii=False, default=str),
               'stdout': printed.out, 'stderr': printed.err, 'log lines': logs.text,
               'exceptions': '\n'.join(errors)}
  if sinks == 'bigquery':
    rows = [dict(r.items()) for r in bq_client.list_rows(table)] if summary.get(
        'rows_written') else []
    dead = [dict(r.items()) for r in bq_client.list_rows(f'{table}_error_records')] if (
        summary.get('dead_letters')) else []
  else:
    rows = _read_jsonl(str(folder / 'lake' / 'rows' / 'run=*' / '*'))
    dead = _read_jsonl(str(folder / 'lake' / 'rows_error_records' / 'run=*' / '*'))
  haystacks['output rows'] = json.dumps(rows, ensure_ascii=False, default=str)
  haystacks.update(_dead_letter_haystacks(dead))
  assert scan(haystacks, allowed_in_payload=mode == 'redact') == [], (unknown, sinks)
  assert not errors, errors
  # The scan looked at the real outputs: every record is a row or a dead letter.
  assert summary['records_read'] == records_in
  assert len(rows) + len(dead) == records_in == summary['rows_written'] + summary[
      'dead_letters']
  assert [d['errorType'] for d in dead if not error_type_ok(d['errorType'], schema)] == []
  assert set(summary['dead_letters_by_type']) == {d['errorType'] for d in dead}


@pytest.mark.parametrize('input_format', ['jsonl', 'csv'])
@pytest.mark.parametrize('mode', ['mask', 'redact', 'drop'])
def test_no_unapproved_pii_in_any_output_end_to_end(tmp_path, capfd, monkeypatch,
                                                    bigquery_emulator, bq_client, bq_dataset,
                                                    input_format, mode):
  monkeypatch.setenv(KEY_VARIABLE, 'leak-property-key-0123456789abcdef')

  @settings(max_examples=3, **SETTINGS)
  @given(case=runs(input_format))
  def check(case):
    _run_case(tmp_path, capfd, bq_client, bq_dataset, bigquery_emulator.project,
              input_format, mode, case)
  check()


@st.composite
def pubsub_messages(draw):
  schema = draw(schemas())
  policy = draw(policies(schema, defaults=('drop',)))
  bound = bound_or_reject(schema, policy)
  recs = draw(st.lists(records(schema, bound, all_field_names(schema)), min_size=6,
                       max_size=12))
  messages = [(draw(jsonl_payloads(r)), draw(attributes('drop'))) for r in recs]
  # and a message whose timestamp attribute is not a time (read stage, from Pub/Sub)
  messages.append((b'{}', {'ts': draw(pii_strings()), 'source': 'app'}))
  return schema, policy, messages


def test_no_unapproved_pii_from_pubsub_end_to_end(tmp_path, capfd, monkeypatch,
                                                  bigquery_emulator, bq_client, bq_dataset,
                                                  pubsub_topic_factory):
  """Pub/Sub attributes (keys and values), the timestamp attribute and payloads of generated
  messages: a streaming run of pubsub_to_bigquery per example, each on its own topic and
  table (its summary, logs, both tables)."""
  monkeypatch.setenv(KEY_VARIABLE, 'leak-property-key-0123456789abcdef')

  @settings(max_examples=3, **SETTINGS)
  @given(case=pubsub_messages())
  def check(case):
    schema, policy, messages = case
    topic, subscription = pubsub_topic_factory()
    (tmp_path / 'schema.json').write_text(json.dumps(schema))
    (tmp_path / 'policy.json').write_text(json.dumps(policy))
    table = f'{bq_dataset}.events_{uuid.uuid4().hex[:8]}'
    publish(topic, messages)
    capfd.readouterr()
    with CollectLogs(logging.INFO) as logs:
      running = pubsub_to_bigquery.start([
          '--input_subscription', subscription, '--schema', str(tmp_path / 'schema.json'),
          '--output_table', f'{bigquery_emulator.project}:{table}',
          '--timestamp_attribute', 'ts', '--unknown_fields', 'dead_letter',
          '--masking_policy', str(tmp_path / 'policy.json'),
          '--masking_key_source', f'env:{KEY_VARIABLE}', '--pubsub_pull_timeout', '0.5s'])
      try:
        counters = wait_for(running.counters, lambda c: c.get(('sink', 'rows_attempted'), 0)
                            + c.get(('dead_letters', 'total'), 0) >= len(messages),
                            timeout=60)
        # Counted before written: the tables are read while the pipeline still runs.
        rows = wait_for(lambda: table_rows(bq_client, table, '1'),
                        lambda r: len(r) >= counters.get(('sink', 'rows_attempted'), 0),
                        timeout=60)
        dead = wait_for(lambda: table_rows(bq_client, f'{table}_error_records', 'sourceId'),
                        lambda r: len(r) >= counters.get(('dead_letters', 'total'), 0),
                        timeout=60)
        summary = running.summary()
      finally:
        running.cancel()
    printed = capfd.readouterr()
    haystacks = {'summary': json.dumps(summary, default=str), 'stdout': printed.out,
                 'stderr': printed.err, 'log lines': logs.text,
                 'output rows': json.dumps(rows, default=str)}
    haystacks.update(_dead_letter_haystacks(dead))
    assert scan(haystacks) == []
    assert summary['messages_read'] == len(messages)
    assert counters.get(('dead_letters', 'total'), 0) == len(dead) >= 1
    assert [d['errorType'] for d in dead if not error_type_ok(d['errorType'], schema)] == []
  check()
