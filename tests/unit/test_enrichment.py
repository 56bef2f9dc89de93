"""EnrichWithSideInput: joins, missing-key and collision policies, duplicate keys, keyed mode,
refresh on the streaming DirectRunner (TestStream ticks), and constructor validation."""

import json
import os
import random
import uuid
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_FIELDS, payload_bytes
from beam_pipelines.transforms.enrichment.config import EnrichmentConfig, build_index, key_text
from beam_pipelines.transforms.enrichment.join import align_tick, refresh_schedule, StampJoinTimeFn
from beam_pipelines.transforms.enrichment.sources.base import LookupSourceError
from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput, enriched_schema
from beam_pipelines.transforms.core.schema import load_schema

REGIONS_CSV = 'country_code,region,name\nDE,EMEA,Germany\nUS,AMER,United States\nJP,APAC,\n'


def write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text, encoding='utf-8')
  return str(path)


# Outputs collected in-process by token (DoFns are pickled, so they cannot close over a list).
_COLLECTED = {}


def _collect(element, token):
  _COLLECTED.setdefault(token, []).append(element)


def run_batch(rows, config, runner='FnApiRunner'):
  """Runs the transform on ``rows``; returns (rows, dead letters, enrich counters)."""
  token = uuid.uuid4().hex
  with beam.Pipeline(runner) as p:
    result = (p | beam.Create(rows, reshuffle=False)
              | 'Enrich' >> EnrichWithSideInput(config))
    _ = result.rows | 'CollectRows' >> beam.Map(_collect, token + 'rows')
    _ = result.dead_letters | 'CollectDead' >> beam.Map(_collect, token + 'dead')
  return (_COLLECTED.pop(token + 'rows', []), _COLLECTED.pop(token + 'dead', []),
          counters(p.result))


def counters(result):
  totals = {}
  for metric in result.metrics().query(MetricsFilter().with_namespace('enrich'))['counters']:
    name = metric.key.metric.name
    totals[name] = totals.get(name, 0) + (metric.committed or 0)
  return totals


def by_id(rows):
  return {r['id']: r for r in rows}


@pytest.fixture
def regions(tmp_path):
  return FileLookupSource(write(tmp_path, 'regions.csv', REGIONS_CSV))


ROWS = [
    {'id': 1, 'country_code': 'DE'},
    {'id': 2, 'country_code': 'US', 'region': 'AMER'},   # same value: no collision
    {'id': 3, 'country_code': 'FR'},                     # no lookup entry
    {'id': 4},                                           # key field absent
    {'id': 5, 'country_code': 'JP'},                     # lookup value empty -> null
]


def test_static_join_keep_policy_adds_fields_and_nulls(regions):
  cfg = EnrichmentConfig(source=regions, keys=('country_code',), fields=('region', 'name'))
  out, dead, c = run_batch(ROWS, cfg)
  assert by_id(out) == {
      1: {'id': 1, 'country_code': 'DE', 'region': 'EMEA', 'name': 'Germany'},
      2: {'id': 2, 'country_code': 'US', 'region': 'AMER', 'name': 'United States'},
      3: {'id': 3, 'country_code': 'FR', 'region': None, 'name': None},
      4: {'id': 4, 'region': None, 'name': None},
      5: {'id': 5, 'country_code': 'JP', 'region': 'APAC', 'name': None},
  }
  assert dead == []
  assert (c['hits'], c['misses'], c['loads'], c['lookup_rows']) == (3, 2, 1, 3)
  assert c.get('collisions', 0) == 0


def test_dead_letter_policy_sends_misses_with_the_row_as_payload(regions):
  cfg = EnrichmentConfig(source=regions, keys=('country_code',), fields=('region',),
                         missing='dead_letter', pipeline_name='p1')
  out, dead, c = run_batch(ROWS, cfg)
  assert sorted(r['id'] for r in out) == [1, 2, 5]
  assert len(dead) == 2
  for record in dead:
    assert set(record) == {f['name'] for f in DEAD_LETTER_FIELDS}
    assert (record['stage'], record['errorType'], record['pipeline']) == (
        'enrich', 'enrichment_miss', 'p1')
  payloads = {json.loads(payload_bytes(d))['id']: d for d in dead}
  assert json.loads(payload_bytes(payloads[3])) == {'id': 3, 'country_code': 'FR'}
  assert 'no lookup entry' in payloads[3]['errorMessage']
  assert 'country_code is missing or null' in payloads[4]['errorMessage']
  assert (c['misses'], c['dead_letters']) == (2, 2)


def test_drop_policy_counts_what_it_drops(regions):
  cfg = EnrichmentConfig(source=regions, keys=('country_code',), fields=('region',),
                         missing='drop')
  out, dead, c = run_batch(ROWS, cfg)
  assert sorted(r['id'] for r in out) == [1, 2, 5]
  assert dead == []
  assert (c['misses'], c['dropped']) == (2, 2)
  assert len(out) + len(dead) + c['dropped'] == len(ROWS)  # nothing silently lost


@pytest.mark.parametrize('policy, expected_region, dead_ids', [
    ('lookup_wins', 'EMEA', []),
    ('row_wins', 'Europe', []),
    ('error', None, [1]),
])
def test_collision_policies(regions, policy, expected_region, dead_ids):
  rows = [{'id': 1, 'country_code': 'DE', 'region': 'Europe'},
          {'id': 2, 'country_code': 'US', 'region': 'AMER'},   # equal: not a collision
          {'id': 3, 'country_code': 'JP', 'name': 'Nippon'}]  # lookup null: row kept
  cfg = EnrichmentConfig(source=regions, keys=('country_code',), fields=('region', 'name'),
                         collision=policy)
  out, dead, c = run_batch(rows, cfg)
  got = by_id(out)
  assert c['collisions'] == 1
  assert got[2]['region'] == 'AMER'
  assert got[3]['name'] == 'Nippon'
  if expected_region is None:
    assert 1 not in got
  else:
    assert got[1]['region'] == expected_region
  assert [json.loads(payload_bytes(d))['id'] for d in dead] == dead_ids
  if dead:
    assert dead[0]['errorType'] == 'enrichment_collision:region'


def test_multi_key_nested_join_with_rename_and_prefix(tmp_path):
  lookup = write(tmp_path, 'tiers.jsonl', '\n'.join(json.dumps(r) for r in [
      {'country': 'DE', 'tier': 1, 'discount': 0.1, 'label': 'gold-de'},
      {'country': 'DE', 'tier': 2, 'discount': 0.2, 'label': 'silver-de'},
      {'country': 'US', 'tier': 1, 'discount': 0.3, 'label': 'gold-us'},
  ]))
  cfg = EnrichmentConfig(
      source=FileLookupSource(lookup), keys=('user.address.country', 'tier'),
      lookup_keys=('country', 'tier'), fields=('discount', 'label'),
      rename=(('label', 'tier_label'),), prefix='t_')
  rows = [{'id': 1, 'user': {'address': {'country': 'DE'}}, 'tier': '2'},  # '2' matches 2
          {'id': 2, 'user': {'address': {'country': 'US'}}, 'tier': 1},
          {'id': 3, 'user': {'address': {'country': 'US'}}, 'tier': 2},
          {'id': 4, 'user': None, 'tier': 1}]
  out, dead, c = run_batch(rows, cfg)
  got = by_id(out)
  assert got[1] == {'id': 1, 'user': {'address': {'country': 'DE'}}, 'tier': '2',
                    't_discount': 0.2, 'tier_label': 'silver-de'}
  assert (got[2]['t_discount'], got[2]['tier_label']) == (0.3, 'gold-us')
  assert (got[3]['t_discount'], got[3]['tier_label']) == (None, None)
  assert (got[4]['t_discount'], got[4]['tier_label']) == (None, None)
  assert (c['hits'], c['misses']) == (2, 2)


def test_duplicate_keys_last_wins_and_are_counted(tmp_path):
  lookup = write(tmp_path, 'dups.csv', 'code,region\nDE,first\nUS,AMER\nDE,second\n'
                                       'DE,third\n,orphan\n')
  cfg = EnrichmentConfig(source=FileLookupSource(lookup), keys=('country_code',),
                         lookup_keys=('code',), fields=('region',))
  out, _, c = run_batch([{'id': 1, 'country_code': 'DE'}], cfg)
  assert out == [{'id': 1, 'country_code': 'DE', 'region': 'third'}]
  assert (c['duplicate_keys'], c['lookup_null_keys'], c['lookup_rows']) == (2, 1, 5)


def test_duplicate_keys_error_fails_the_load_naming_the_key(tmp_path):
  lookup = write(tmp_path, 'dups.csv', 'code,region\nDE,first\nUS,AMER\nDE,second\n')
  cfg = EnrichmentConfig(source=FileLookupSource(lookup), keys=('country_code',),
                         lookup_keys=('code',), fields=('region',), duplicates='error')
  with pytest.raises(LookupSourceError, match=r"duplicate key \{'code': 'DE'\} at record 3 "
                                              r"\(first at record 1\)"):
    build_index(cfg.source.read(), cfg)
  with pytest.raises(Exception, match='duplicate key'):
    run_batch([{'id': 1, 'country_code': 'DE'}], cfg)
  keyed = EnrichmentConfig(source=cfg.source, keys=('country_code',), lookup_keys=('code',),
                           fields=('region',), duplicates='error', mode='keyed')
  with pytest.raises(Exception, match='duplicate key'):
    run_batch([{'id': 1, 'country_code': 'DE'}], keyed)


def test_unreadable_lookup_fails_loudly_naming_the_file(tmp_path):
  cfg = EnrichmentConfig(source=FileLookupSource(str(tmp_path / 'nope.csv')),
                         keys=('k',), fields=('v',))
  with pytest.raises(Exception, match='nope.csv'):
    run_batch([{'k': 'a'}], cfg)
  bad = write(tmp_path, 'bad.jsonl', '{"k": "a", "v": 1}\n[1, 2]\n')
  with pytest.raises(LookupSourceError, match=r'bad.jsonl:2: expected a JSON object'):
    list(FileLookupSource(bad).read())


@pytest.mark.parametrize('missing', ['keep', 'dead_letter', 'drop'])
@pytest.mark.parametrize('collision', ['lookup_wins', 'row_wins', 'error'])
def test_keyed_mode_gives_the_same_result_as_broadcast(tmp_path, missing, collision):
  rng = random.Random(7)
  lines = ['k1,k2,v,w']
  for i in range(60):
    lines.append(f'{i % 20},{i % 3},v{i},w{rng.randint(0, 3)}')  # with duplicate keys
  source = FileLookupSource(write(tmp_path, 'lk.csv', '\n'.join(lines) + '\n'))
  rows = []
  for i in range(200):
    row = {'id': i, 'a': {'k1': rng.randint(0, 25)}, 'k2': rng.choice([0, 1, 2, None])}
    if rng.random() < 0.3:
      row['w'] = f'w{rng.randint(0, 3)}'
    rows.append(row)
  results = {}
  for mode in ('broadcast', 'keyed'):
    cfg = EnrichmentConfig(source=source, keys=('a.k1', 'k2'), lookup_keys=('k1', 'k2'),
                           fields=('v', 'w'), missing=missing, collision=collision,
                           mode=mode)
    out, dead, c = run_batch(rows, cfg)
    results[mode] = (
        sorted(json.dumps(r, sort_keys=True) for r in out),
        sorted((d['errorType'], d['payloadString']) for d in dead),
        {k: c.get(k, 0) for k in ('hits', 'misses', 'dropped', 'collisions',
                                  'duplicate_keys', 'dead_letters')})
  assert results['broadcast'] == results['keyed']
  hits = results['broadcast'][2]['hits']
  assert 0 < hits < len(rows)  # the data really exercises hits and misses


def test_key_text_matches_across_types():
  assert key_text(42) == key_text(42.0) == key_text('42') == '42'
  assert key_text(True) == 'true'
  assert key_text(None) is None
  assert key_text(1.5) == '1.5'


@pytest.mark.parametrize('kwargs, argument', [
    (dict(keys=()), 'keys'),
    (dict(keys=('a..b',)), 'keys'),
    (dict(lookup_keys=('x', 'y')), 'lookup_keys'),
    (dict(fields=()), 'fields'),
    (dict(rename=(('nope', 'x'),)), 'rename'),
    (dict(rename=(('v', 'a.b'),)), 'rename'),
    (dict(prefix='a.'), 'prefix'),
    (dict(missing='ignore'), 'missing'),
    (dict(collision='first'), 'collision'),
    (dict(duplicates='first_wins'), 'duplicates'),
    (dict(mode='hash'), 'mode'),
    (dict(refresh_seconds=0), 'refresh_seconds'),
    (dict(refresh_seconds=10, refresh_horizon_seconds=5), 'refresh_horizon_seconds'),
    (dict(refresh_seconds=10, mode='keyed'), 'mode'),
    (dict(refresh_time='ingest'), 'refresh_time'),
    (dict(fields=('v', 'w'), rename=(('v', 'w'),)), 'fields/rename/prefix'),
    (dict(source='lookup.csv'), 'source'),
])
def test_config_validation_names_the_argument(regions, kwargs, argument):
  base = dict(source=regions, keys=('k',), fields=('v',))
  base.update(kwargs)
  with pytest.raises(ValueError) as info:
    EnrichmentConfig(**base)
  assert str(info.value).startswith(argument)


def test_transform_rejects_modes_its_pipeline_cannot_run(regions):
  static = EnrichmentConfig(source=regions, keys=('k',), fields=('v',))
  with pytest.raises(ValueError, match='^config must be an EnrichmentConfig'):
    EnrichWithSideInput({'keys': ['k']})
  with pytest.raises(ValueError, match='^refresh_ticks: only meaningful'):
    EnrichWithSideInput(static, refresh_ticks=beam.Create([1]))
  refreshing = EnrichmentConfig(source=regions, keys=('k',), fields=('v',),
                                refresh_seconds=10)
  with pytest.raises(ValueError, match='^refresh_seconds needs a streaming pipeline'):
    with beam.Pipeline('FnApiRunner') as p:
      _ = p | beam.Create([{'k': 'a'}]) | EnrichWithSideInput(refreshing)
  streaming = PipelineOptions(['--streaming', '--runner', 'BundleBasedDirectRunner'])
  # The side-input refresh cannot run on the DirectRunner (asked for, or implied by event
  # join times), nor with processing join times on the FnApiRunner; auto picks the worker
  # refresh there.
  import dataclasses
  for changes, runner, message in (
      (dict(refresh_strategy='side_input'), 'BundleBasedDirectRunner',
       '^refresh_strategy: the side-input refresh cannot run on the Python '
       'BundleBasedDirectRunner'),
      (dict(refresh_time='event'), 'BundleBasedDirectRunner', '^refresh_time: the side-input'),
      (dict(refresh_strategy='side_input'), 'FnApiRunner',
       '^refresh_strategy: a side-input refresh with processing join times')):
    with pytest.raises(ValueError, match=message):
      p = beam.Pipeline(options=PipelineOptions(['--streaming', '--runner', runner]))
      _ = p | beam.Create([{'k': 'a'}]) | EnrichWithSideInput(
          dataclasses.replace(refreshing, **changes))
  p = beam.Pipeline(options=streaming)
  _ = p | beam.Create([{'k': 'a'}]) | 'Enrich' >> EnrichWithSideInput(refreshing)
  assert 'Enrich/Join' in _labels_of(p) and 'Enrich/LoadLookup' not in _labels_of(p)
  keyed = EnrichmentConfig(source=regions, keys=('k',), fields=('v',), mode='keyed')
  with pytest.raises(ValueError, match='^mode: keyed joins run in batch pipelines only'):
    p = beam.Pipeline(options=streaming)
    _ = p | beam.Create([{'k': 'a'}]) | EnrichWithSideInput(keyed)


def _labels_of(p):
  labels = []

  class Visitor(beam.pipeline.PipelineVisitor):
    def enter_composite_transform(self, node):
      labels.append(node.full_label)

    def visit_transform(self, node):
      labels.append(node.full_label)
  p.visit(Visitor())
  return labels


def test_enriched_schema_appends_missing_output_columns(regions):
  schema = load_schema([{'name': 'id', 'type': 'INTEGER'},
                        {'name': 'Region', 'type': 'STRING', 'mode': 'NULLABLE'}])
  cfg = EnrichmentConfig(source=regions, keys=('k',), fields=('region', 'name'),
                         prefix='geo_', rename=(('region', 'region'),))
  out = enriched_schema(schema, cfg).to_json()['fields']
  assert [(f['name'], f['type'], f['mode']) for f in out] == [
      ('id', 'INT64', 'NULLABLE'), ('Region', 'STRING', 'NULLABLE'),
      ('geo_name', 'STRING', 'NULLABLE')]


def test_refresh_schedule_is_bounded_and_starts_at_run_time():
  before = Timestamp.now()
  start, stop, interval = refresh_schedule(None, 30.0, 3600.0)
  assert start.micros % 30_000_000 == 0
  assert before - 30 < start <= Timestamp.now()      # no backlog of missed ticks
  assert stop - start == 3600 and interval == 30.0   # a finite end
  # Tick times computed in float seconds are snapped into their own window.
  aligned = align_tick(None, 30.0, timestamp=Timestamp(micros=60_000_000 - 1))
  assert (aligned.value, aligned.timestamp) == (2, Timestamp(75))


def test_processing_time_stamp_keeps_the_original_timestamp():
  [stamped] = list(StampJoinTimeFn('processing').process({'a': 1}, timestamp=Timestamp(5)))
  assert stamped.value == ({'a': 1}, Timestamp(5))
  assert 0 <= (Timestamp.now() - stamped.timestamp).micros < 60_000_000
  [event] = list(StampJoinTimeFn('event').process({'a': 1}, timestamp=Timestamp(5)))
  assert event.timestamp == Timestamp(5)


@dataclass(frozen=True)
class RotatingFileSource(FileLookupSource):
  """A real lookup file that is replaced by the next staged version after each read: the
  file's content changes between two refreshes, as an operator's upload would."""
  staged: tuple = ()
  log: Optional[str] = None

  def read(self):
    records = list(super().read())
    with open(self.log, 'a', encoding='utf-8') as f:
      f.write(json.dumps(records) + '\n')
    for path in self.staged:
      if os.path.exists(path):
        os.replace(path, self.path)
        break
    return iter(records)


def test_refresh_on_streaming_runner_later_rows_see_the_new_version(tmp_path):
  lookup = write(tmp_path, 'lookup.jsonl', '{"k": "A", "v": "v1"}\n')
  v2 = write(tmp_path, 'lookup.v2', '{"k": "A", "v": "v2"}\n{"k": "B", "v": "v2"}\n')
  source = RotatingFileSource(lookup, format='jsonl', staged=(v2,),
                              log=str(tmp_path / 'loads.log'))
  cfg = EnrichmentConfig(source=source, keys=('k',), fields=('v',), refresh_seconds=10,
                         refresh_time='event', missing='dead_letter')
  out_path = tmp_path / 'out.jsonl'

  def record(element, timestamp=beam.DoFn.TimestampParam):
    with open(out_path, 'a', encoding='utf-8') as f:
      f.write(json.dumps([element, timestamp.micros]) + '\n')

  def row(k, t):
    return TimestampedValue({'k': k, 't': t}, t)

  # Ticks at the refresh instants 100 and 110; rows in both refresh windows.
  stream = (TestStream(output_tags=['ticks', 'rows'])
            .add_elements([TimestampedValue(0, 100)], tag='ticks')
            .advance_watermark_to(110, tag='ticks')
            .add_elements([row('A', 101), row('B', 105)], tag='rows')
            .advance_watermark_to(110, tag='rows')
            .add_elements([TimestampedValue(1, 110)], tag='ticks')
            .advance_watermark_to(120, tag='ticks')
            .add_elements([row('A', 111), row('B', 119)], tag='rows')
            .advance_watermark_to_infinity(tag='ticks')
            .advance_watermark_to_infinity(tag='rows'))
  options = PipelineOptions(['--runner', 'BundleBasedDirectRunner', '--streaming'])
  p = beam.Pipeline(options=options)
  streams = p | stream
  result = streams['rows'] | 'Enrich' >> EnrichWithSideInput(
      cfg, refresh_ticks=streams['ticks'])
  result.rows | 'RecordRows' >> beam.Map(record)
  result.dead_letters | 'RecordDead' >> beam.Map(
      lambda d, ts=beam.DoFn.TimestampParam: record(
          {'dead': json.loads(d['payloadString']), 'type': d['errorType']}, ts))
  run = p.run()
  run.wait_until_finish()

  seen = sorted((json.loads(line) for line in out_path.read_text().splitlines()),
                key=lambda item: item[1])
  assert seen == ([
      [{'k': 'A', 't': 101, 'v': 'v1'}, 101_000_000],    # version 1
      [{'dead': {'k': 'B', 't': 105}, 'type': 'enrichment_miss'}, 105_000_000],
      [{'k': 'A', 't': 111, 'v': 'v2'}, 111_000_000],    # after the refresh: version 2
      [{'k': 'B', 't': 119, 'v': 'v2'}, 119_000_000],
  ])
  loads = [json.loads(line) for line in (tmp_path / 'loads.log').read_text().splitlines()]
  assert [len(records) for records in loads] == [1, 2]
  # (Not asserted on counters: the streaming DirectRunner's metrics after a TestStream run
  # held only the first bundle's values here — 1 of 2 refreshes — while both loads ran.)


def test_static_lookup_in_a_streaming_pipeline(regions, tmp_path):
  """Without refresh_seconds a streaming pipeline gets the same static side input."""
  cfg = EnrichmentConfig(source=regions, keys=('country_code',), fields=('region',))
  out_path = tmp_path / 'out.jsonl'

  def record(element):
    with open(out_path, 'a', encoding='utf-8') as f:
      f.write(json.dumps(element, sort_keys=True) + '\n')

  stream = (TestStream()
            .add_elements([TimestampedValue({'id': 1, 'country_code': 'DE'}, 10)])
            .advance_watermark_to(20)
            .add_elements([TimestampedValue({'id': 2, 'country_code': 'FR'}, 30)])
            .advance_watermark_to_infinity())
  p = beam.Pipeline(options=PipelineOptions(['--runner', 'BundleBasedDirectRunner',
                                             '--streaming']))
  result = p | stream | 'Enrich' >> EnrichWithSideInput(cfg)
  result.rows | beam.Map(record)
  p.run().wait_until_finish()
  got = sorted(json.loads(line)['id'] for line in out_path.read_text().splitlines())
  assert got == [1, 2]
  assert {json.loads(line)['id']: json.loads(line)['region']
          for line in out_path.read_text().splitlines()} == {1: 'EMEA', 2: None}


def test_csv_lookup_with_bom_quotes_and_gzip(tmp_path):
  import gzip
  path = tmp_path / 'regions.csv.gz'
  with gzip.open(path, 'wt', encoding='utf-8') as f:
    f.write('\ufeffcode,name\nDE,"Germany, Federal Republic"\nUS,\n')
  assert list(FileLookupSource(str(path)).read()) == [
      {'code': 'DE', 'name': 'Germany, Federal Republic'}, {'code': 'US', 'name': None}]


def test_failed_refresh_keeps_the_previous_version_and_a_failed_first_load_raises(tmp_path):
  from beam_pipelines.transforms.enrichment.join import LoadIndexFn
  lookup = tmp_path / 'lk.jsonl'
  lookup.write_text('{"k": "A", "v": 1}\n')
  cfg = EnrichmentConfig(source=FileLookupSource(str(lookup)), keys=('k',), fields=('v',),
                         refresh_seconds=10)
  fn = LoadIndexFn(cfg, refreshing=True)

  def load(tick):
    return [index for _, index in fn.process(tick)]  # versions are (load time, index)

  assert load(0) == [{('A',): {'v': 1}}]
  lookup.write_text('{"k": "A", "v": 2}\nnot json\n')
  assert load(1) == [{('A',): {'v': 1}}]   # broken upload: previous version
  lookup.write_text('{"k": "A", "v": 3}\n')
  assert load(2) == [{('A',): {'v': 3}}]
  fresh = LoadIndexFn(cfg, refreshing=True)
  lookup.write_text('not json\n')
  with pytest.raises(LookupSourceError, match=r'lk.jsonl:1: not valid JSON'):
    list(fresh.process(0))


def test_bounded_refresh_impulse_for_real_on_fnapi_runner(tmp_path):
  """The production tick path (BoundedRefreshImpulse = ImpulseSeqGenDoFn with a run-time
  start and a finite stop) on a runner that can execute it. FnApiRunner runs the side-input
  stage to completion first, so rows use event-time join times spread around the run."""
  import math
  import time
  lookup = write(tmp_path, 'lookup.jsonl', '{"k": "A", "v": "v1"}\n')
  v2 = write(tmp_path, 'lookup.v2', '{"k": "A", "v": "v2"}\n')
  v3 = write(tmp_path, 'lookup.v3', '{"k": "A", "v": "v3"}\n')
  source = RotatingFileSource(lookup, format='jsonl', staged=(v2, v3),
                              log=str(tmp_path / 'loads.log'))
  interval, horizon = 1, 3
  cfg = EnrichmentConfig(source=source, keys=('k',), fields=('v',), refresh_seconds=interval,
                         refresh_horizon_seconds=horizon, refresh_time='event')
  built = time.time()
  # Rows every 0.5 s from 4 s before to 60 s after building (a slow start on a loaded
  # machine only moves the refreshed windows within that range).
  rows = [TimestampedValue({'k': 'A', 't': built + i / 2}, built + i / 2)
          for i in range(-8, 120)]
  token = uuid.uuid4().hex
  options = PipelineOptions(['--runner', 'FnApiRunner', '--streaming'])
  with beam.Pipeline(options=options) as p:
    result = p | beam.Create(rows) | 'Enrich' >> EnrichWithSideInput(cfg)
    _ = result.rows | 'Rows' >> beam.Map(_collect, token + 'rows')
    _ = result.dead_letters | 'Dead' >> beam.Map(_collect, token + 'dead')
  out, dead = _COLLECTED.pop(token + 'rows', []), _COLLECTED.pop(token + 'dead', [])

  assert len(out) + len(dead) == len(rows)
  assert {d['errorType'] for d in dead} == {'enrichment_unavailable'}
  version_of_window = {}
  for row in out:
    version_of_window.setdefault(math.floor(row['t'] / interval), set()).add(row['v'])
  windows = sorted(version_of_window)
  # Exactly horizon/interval refreshes, in consecutive windows, one version per window, each
  # later window seeing the newer version.
  assert [version_of_window[w] for w in windows] == [{'v1'}, {'v2'}, {'v3'}]
  assert windows == list(range(windows[0], windows[0] + 3))
  # The impulse started at run time (no backlog from a start fixed in the past).
  assert built - interval <= windows[0] * interval <= time.time()
  for d in dead:  # rows outside the refreshed windows are dead letters, not unenriched
    t = json.loads(d['payloadString'])['t']
    assert math.floor(t / interval) not in version_of_window
  loads = [json.loads(line) for line in (tmp_path / 'loads.log').read_text().splitlines()]
  assert [records[0]['v'] for records in loads] == ['v1', 'v2', 'v3']
