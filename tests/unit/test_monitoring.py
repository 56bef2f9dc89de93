"""SLA rules (syntax and errors), the evaluator (freshness, volume bounds and Beam's anomaly
detectors, dead-letter rate, quality score, cool-down, gaps) and EvaluateSlas in a batch
pipeline: windows of CheckQuality joined with the dead letters of every stage."""

import random

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.core.dead_letter import format_timestamp, make_dead_letter
from beam_pipelines.transforms.monitoring import AlertLinks, EvaluateSlas
from beam_pipelines.transforms.monitoring.evaluate import SlaEvaluator, window_metrics
from beam_pipelines.transforms.quality import CheckQuality, load_quality_rules

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def rules(text):
  return load_quality_rules(text)


@pytest.mark.parametrize('sla, message', [
    ({'volume': {}}, "SLA 'volume': volume needs min, max or anomaly"),
    ({'volume': {'min': 5, 'anomaly': 'zscore'}}, 'anomaly and min/max are separate rules'),
    ({'volume': {'anomaly': 'lstm'}}, 'anomaly must be one of zscore|iqr|robust_zscore'),
    ({'volume': {'min': 10, 'max': 5}}, 'min 10 is greater than max 5'),
    ({'volume': {'min': 1, 'per': 'soon'}}, 'per: expected a duration like 30s'),
    ({'volume': {'min': 1}, 'severity': 'page'}, 'severity must be one of warning|critical'),
    ({'dead_letter_rate': {'max': 2}}, 'max must be between 0 and 1'),
    ({'dead_letter_rate': {'max': 0.1, 'warmup': 3}}, 'warmup only go with anomaly'),
    ({'freshness': {'field': 'other', 'max_lag': '5m'}}, "field 'other' must be the rules'"),
    ({'freshness': {}}, 'freshness needs max_lag, max_age or both'),
    ({'freshness': {'max_lag': '5m', 'stat': 'p99'}}, 'stat must be one of p50|p95|max'),
    ({'quality_score': {'min': 0.9, 'score': 'beauty'}}, 'score must be one of'),
    ({'volume': {'min': 1}, 'freshness': {'max_lag': 1}}, 'give exactly one of'),
    ({'volume': {'min': 1}, 'owner': 'me'}, "unknown field(s) ['owner']"),
    ({'volume': {'minimum': 1}}, "unknown volume setting(s) ['minimum']"),
])
def test_bad_sla_rules_fail_naming_the_rule_and_setting(sla, message):
  with pytest.raises(ValueError) as e:
    rules({'window_seconds': 60, 'timestamp_field': 'ts', 'slas': [sla]})
  assert message in str(e.value)


def test_sla_syntax_of_the_issue_parses_and_ids_default_to_the_kind():
  config = rules("""
window_seconds: 60
timestamp_field: event_time
alert_cooldown: 10m
slas:
  - freshness: {field: event_time, max_lag: 5m}
  - volume: {min: 100, per: 1m}
  - {id: burst, volume: {anomaly: zscore, threshold: 3, warmup: 10}}
  - dead_letter_rate: {max: 0.02}
  - quality_score: {min: 0.95}
""")
  assert [(r.id, r.kind) for r in config.slas] == [
      ('freshness', 'freshness'), ('volume', 'volume'), ('burst', 'volume'),
      ('dead_letter_rate', 'dead_letter_rate'), ('quality_score', 'quality_score')]
  assert config.rules == () and config.alert_cooldown_seconds == 600
  assert config.slas[0].max_lag_seconds == 300 and config.slas[2].warmup == 10
  assert config.slas[1].expected_volume(3600) == (6000, None)  # 100 a minute, hourly windows
  with pytest.raises(ValueError, match='duplicate id'):
    rules({'slas': [{'volume': {'min': 1}}, {'volume': {'max': 9}}]})


def evaluator(slas, window=60, cooldown=0):
  config = rules({'window_seconds': window, 'alert_cooldown': cooldown, 'slas': slas})
  return SlaEvaluator(config.slas, window, config.alert_cooldown_seconds, 'p',
                      AlertLinks('p:d.t_quality', 'p:d.t_error_records'), clock=lambda: BASE)


def metrics(i, rows=100, dead=0, **quality):
  start = BASE + 60 * i
  return window_metrics(start, start + 60, dict({'rows': rows, 'dead_lettered': 0}, **quality),
                        dead)


def test_a_freshness_breach_is_one_alert_with_links_back_to_the_window():
  ev = evaluator([{'id': 'fresh', 'freshness': {'max_lag': '5m'}}])
  assert ev.evaluate(metrics(0, lag_p95_seconds=299.0)) == ([], 0)
  [alert], _ = ev.evaluate(metrics(1, lag_p95_seconds=86400.0))
  start = format_timestamp(BASE + 60)
  assert {k: alert[k] for k in ('alert_id', 'rule', 'kind', 'severity', 'window_start',
                                'observed', 'expected', 'pipeline')} == {
      'alert_id': f'p/fresh/{start}', 'rule': 'fresh', 'kind': 'freshness',
      'severity': 'critical', 'window_start': start, 'observed': 86400.0,
      'expected': 'lag p95 <= 300 s', 'pipeline': 'p'}
  assert alert['quality_query'] == (f"SELECT * FROM `p.d.t_quality` WHERE window_start = "
                                    f"TIMESTAMP '{start}' AND pipeline = 'p'")
  assert f"eventTimestamp >= TIMESTAMP '{start}'" in alert['dead_letters_query']
  assert '`p.d.t_error_records`' in alert['dead_letters_query']


def test_a_volume_burst_is_flagged_by_beams_zscore_after_warmup():
  ev = evaluator([{'id': 'burst', 'volume': {'anomaly': 'zscore', 'warmup': 5}}])
  rng = random.Random(7)
  seen = []
  for i in range(30):
    rows = 1000 if i == 20 else 100 + rng.randrange(-10, 11)
    alerts, _ = ev.evaluate(metrics(i, rows=rows))
    seen += [(i, a['observed']) for a in alerts]
  assert seen == [(20, 1000.0)]


@pytest.mark.parametrize('detector, threshold', [('iqr', 1.5), ('robust_zscore', 6)])
def test_the_other_beam_detectors_flag_the_burst_too(detector, threshold):
  # Beam's online median/MAD is rough on a short history: a higher threshold for it.
  ev = evaluator([{'volume': {'anomaly': detector, 'warmup': 8, 'threshold': threshold}}])
  rng = random.Random(3)
  flagged = [i for i in range(30)
             if ev.evaluate(metrics(i, rows=5000 if i == 25 else 100 + rng.randrange(-10, 11)))[0]]
  assert 25 in flagged and len(flagged) <= 3


def test_cooldown_keeps_a_rule_quiet_and_counts_what_it_suppressed():
  ev = evaluator([{'volume': {'min': 50}}], cooldown='3m')
  out = [ev.evaluate(metrics(i, rows=10)) for i in range(5)]
  assert [(len(a), s) for a, s in out] == [(1, 0), (0, 1), (0, 1), (1, 0), (0, 1)]


def test_a_gap_in_the_data_is_checked_as_empty_windows():
  ev = evaluator([{'volume': {'min': 50}}])
  ev.evaluate(metrics(0))
  alerts, _ = ev.evaluate(metrics(3))
  assert [a['window_start'] for a in alerts] == [format_timestamp(BASE + 60),
                                                 format_timestamp(BASE + 120)]
  assert {a['observed'] for a in alerts} == {0.0}


def test_dead_letter_rate_and_quality_score_rules():
  ev = evaluator([{'dead_letter_rate': {'max': 0.02}},
                  {'id': 'q', 'quality_score': {'min': 0.95}, 'severity': 'warning'}])
  assert ev.evaluate(metrics(0, rows=98, dead=2, validity=0.99)) == ([], 0)  # 2/100
  alerts, _ = ev.evaluate(metrics(1, rows=95, dead=5, validity=0.9, completeness=1.0))
  assert [(a['rule'], a['observed'], a['severity']) for a in alerts] == [
      ('dead_letter_rate', 0.05, 'critical'), ('q', 0.9, 'warning')]
  assert 'validity score 0.9 is below 0.95' in alerts[1]['message']


def test_evaluate_slas_in_a_batch_pipeline_joins_windows_and_dead_letters():
  """Three one-minute windows of event time: one a day old (its rows are late), an ordinary
  one with two dead letters, and a burst; one more dead letter has no event time (it counts
  for the run's dead-letter rate only)."""
  config = {
      'window_seconds': 60, 'timestamp_field': 'ts',
      'rules': [{'id': 'id_present', 'kind': 'not_null', 'path': 'id'}],
      'slas': [{'id': 'fresh', 'freshness': {'max_lag': '1h', 'stat': 'max'}},
               {'id': 'few', 'volume': {'max': 50}},
               {'id': 'bad', 'dead_letter_rate': {'max': 0.02}}]}
  now = BASE + 86400 + 200
  rows = ([{'id': f'c{i}', 'ts': format_timestamp(BASE + 120 + i)} for i in range(10)]
          + [{'id': f'a{i}', 'ts': format_timestamp(BASE + 86400 + i % 50)} for i in range(40)]
          + [{'id': f'b{i}', 'ts': format_timestamp(BASE + 86460 + i % 50)} for i in range(80)])
  dead = [make_dead_letter('x', stage='parse', error_type='invalid_json', message='m',
                           event_time=BASE + 86401 + i) for i in range(2)]
  dead.append(make_dead_letter('y', stage='parse', error_type='invalid_json', message='m'))
  expected = [
      ('bad', None, round(3 / 133, 6), 't'),                          # the run: 3 of 133
      ('bad', format_timestamp(BASE + 86400), round(2 / 42, 6), 't'),  # 2 of 40 + 2
      ('few', format_timestamp(BASE + 86460), 80.0, 't'),
      ('fresh', format_timestamp(BASE + 120), 86400 + 200 - 120.0, 't'),
  ]
  p = beam.Pipeline(options=PipelineOptions(runner='FnApiRunner'))
  checked = (p | 'Rows' >> beam.Create(rows)
             | CheckQuality(config, pipeline_name='t', clock=lambda: now))
  dead_letters = p | 'Dead' >> beam.Create(dead)
  alerts = (checked.scores, dead_letters) | EvaluateSlas(config, pipeline_name='t',
                                                         clock=lambda: now)
  view = alerts | beam.Map(lambda a: (a['rule'], a['window_start'], a['observed'],
                                      a['pipeline']))
  assert_that(view, equal_to(expected))
  result = p.run()
  result.wait_until_finish()
  # One counter per rule (alerts/<rule>_raised): what Cloud Monitoring charts and alerts on.
  counters = {r.key.metric.name: r.committed for r in result.metrics().query(
      MetricsFilter().with_namespace('alerts'))['counters']}
  assert {k: v for k, v in counters.items() if k.endswith('_raised')} == {
      'bad_raised': 2, 'few_raised': 1, 'fresh_raised': 1}
  assert counters['raised'] == 4 and counters['windows_checked'] == 3
