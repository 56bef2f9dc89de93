"""examples/pipeline.yaml on the FnApiRunner: Beam YAML drives the suite's transforms
(inline python provider): read, validate, mask, enrich, quality, write, dead letters."""

import glob
import json
import os

import pytest
import yaml

from beam_pipelines.transforms import beam_yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, 'examples', 'pipeline.yaml')


def _read_jsonl(pattern):
  out = []
  for path in sorted(glob.glob(pattern)):
    with open(path, 'rb') as f:  # split on \n only: payloads may hold U+2028 and friends
      out.extend(json.loads(line) for line in f.read().split(b'\n') if line.strip())
  return out


def test_provider_spec_in_the_example_matches_the_module():
  with open(EXAMPLE, encoding='utf-8') as f:
    spec = yaml.safe_load(f)
  assert spec['providers'] == [dict(beam_yaml.PROVIDER_SPEC, config={})]


def test_example_yaml_pipeline_runs_on_the_fnapi_runner(tmp_path, monkeypatch):
  from apache_beam.yaml import main as yaml_main
  monkeypatch.chdir(REPO)  # the example's relative paths (samples/...) are from the repo root
  monkeypatch.setenv('BEAM_PIPELINES_DEMO_MASKING_KEY', 'yaml-test-key-0123456789abcdef0123')
  out = str(tmp_path / 'events')
  # The first 300 sample records (12 of them bad) keep the run short on 2 shared cores.
  sample = tmp_path / 'input.jsonl'
  with open(os.path.join(REPO, 'samples', 'events.jsonl'), 'rb') as f:
    sample.write_bytes(b''.join(f.readlines()[:300]))
  yaml_main.run(argv=[
      '--yaml_pipeline_file', EXAMPLE, '--runner', 'FnApiRunner',
      '--jinja_variables', json.dumps({'input': str(sample), 'output': out})])
  rows = _read_jsonl(out + '.jsonl*')
  dead = _read_jsonl(out + '_error_records*')
  scores = _read_jsonl(out + '_quality.jsonl*')
  # Every record is accounted for: 300 records, 12 of them bad.
  assert len(rows) == 288 and len(dead) == 12
  assert len({r['event_id'] for r in rows}) == 288
  first = next(r for r in rows if r['event_id'] == 'evt-000000')
  # Masked (policy samples/masking_policy.yaml) ...
  assert first['user']['email'] == '***@example.com'
  assert first['user']['address']['city'] == '[REDACTED]'
  assert 'location' not in first and 'signature' not in first
  assert first['user']['id'] != 'u0228' and first['user']['id'].startswith('k')
  # ... enriched (NG is not in the lookup: region null, missing: keep) ...
  assert first['country_code'] == 'NG' and first['region'] is None
  assert any(r['region'] for r in rows)
  # ... and scored: one score row for the bounded run.
  assert len(scores) == 1 and scores[0]['rows'] == 288
  region_rule = next(r for r in scores[0]['rules'] if r['rule_id'] == 'region_known')
  assert region_rule['failed'] == sum(1 for r in rows if r['region'] is None)
  assert scores[0]['pipeline'] == 'yaml_example'
  # Dead letters carry stage/errorType and masked payloads (no raw email in any of them).
  assert {d['stage'] for d in dead} == {'parse', 'validate'}
  assert all(d['pipeline'] == 'yaml_example' for d in dead)
  assert not any('person' in d['payloadString'] and '@example.com' in d['payloadString']
                 and '***@' not in d['payloadString'] for d in dead)


def test_wrappers_validate_their_config_when_the_yaml_is_built():
  with pytest.raises(ValueError, match="quality rule 'x': kind must be one of"):
    beam_yaml.CheckQualityRows({'rules': [{'id': 'x', 'kind': 'nope', 'path': 'a'}]})
  with pytest.raises(ValueError, match='exactly one of path or table'):
    beam_yaml.WriteDeadLetterRecords()
  with pytest.raises(ValueError, match='schema_drift must be one of'):
    beam_yaml.HandleSchemaDriftRows('samples/events_schema.json', mode='grow')


def test_parse_and_validate_accepts_yaml_rows_with_a_line_field():
  import apache_beam as beam
  from apache_beam.testing.util import assert_that, equal_to
  schema = json.dumps([{'name': 'a', 'type': 'INT64', 'mode': 'REQUIRED'}])
  with beam.Pipeline('FnApiRunner') as p:
    out = (p | beam.Create([beam.Row(line='{"a": 1}'), beam.Row(line='{"a": "x"}')])
           | beam_yaml.ParseAndValidateRows(schema))
    assert_that(out['rows'], equal_to([{'a': 1}]), label='rows')
    assert_that(out['dead_letters'] | beam.Map(lambda d: (d['errorType'],
                                                          d['sourceId'][:5])),
                equal_to([('type_mismatch:a', 'yaml:')]), label='dead')
