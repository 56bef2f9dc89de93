"""Anomaly rules on Beam's own detectors (``apache_beam.ml.anomaly``): ZScore, IQR, RobustZScore.

One detector per SLA rule scores each window's value against the windows before it
(``score_one``), then learns it (``learn_one``), as Beam's ``AnomalyDetection`` transform does
per element; ``FixedThreshold`` turns the score into a label. The detector's sliding trackers
hold the rule's ``history`` (in windows). A rule alerts only after ``warmup`` windows were
learned. Beam's detectors score a perfectly constant history as 0 (their spread is zero), so
a rule needs some variation before it can alert: ordinary traffic has it.
"""

import math

import apache_beam as beam

DEFAULT_THRESHOLDS = {'zscore': 3.0, 'iqr': 1.5, 'robust_zscore': 3.0}


def make_detector(rule):
  """A Beam AnomalyDetector for an SLA rule with ``anomaly`` set."""
  from apache_beam.ml.anomaly.detectors.iqr import IQR
  from apache_beam.ml.anomaly.detectors.robust_zscore import RobustZScore
  from apache_beam.ml.anomaly.detectors.zscore import ZScore
  from apache_beam.ml.anomaly.univariate.mad import MadTracker
  from apache_beam.ml.anomaly.univariate.mean import IncSlidingMeanTracker
  from apache_beam.ml.anomaly.univariate.median import MedianTracker
  from apache_beam.ml.anomaly.univariate.quantile import BufferedSlidingQuantileTracker
  from apache_beam.ml.anomaly.univariate.stdev import IncSlidingStdevTracker
  n = rule.history
  if rule.anomaly == 'zscore':
    return ZScore(features=['value'], sub_stat_tracker=IncSlidingMeanTracker(n),
                  stdev_tracker=IncSlidingStdevTracker(n))
  if rule.anomaly == 'iqr':
    return IQR(features=['value'], q1_tracker=BufferedSlidingQuantileTracker(n, 0.25))
  if rule.anomaly == 'robust_zscore':
    return RobustZScore(features=['value'], mad_tracker=MadTracker(
        MedianTracker(BufferedSlidingQuantileTracker(n, 0.5)),
        MedianTracker(BufferedSlidingQuantileTracker(n, 0.5))))
  raise ValueError(f'SLA {rule.id!r}: unknown anomaly detector {rule.anomaly!r}')


class AnomalyRule:
  """A detector, its threshold and its warm-up for one rule: ``check(value)`` scores, learns
  and returns ``(score, outlier)``; ``outlier`` is False while warming up or not ready."""

  def __init__(self, rule):
    from apache_beam.ml.anomaly.thresholds import FixedThreshold
    self.rule = rule
    self.threshold = rule.threshold if rule.threshold is not None else (
        DEFAULT_THRESHOLDS[rule.anomaly])
    self._detector = make_detector(rule)
    self._label = FixedThreshold(self.threshold)
    self.learned = 0

  def check(self, value):
    row = beam.Row(value=float(value))
    try:
      score = self._detector.score_one(row)
    except (ValueError, ArithmeticError):
      # Beam's incremental stdev can go slightly negative under rounding (math domain
      # error): treat it as not ready rather than failing the run.
      score = None
    self._detector.learn_one(row)
    warm = self.learned >= self.rule.warmup
    self.learned += 1
    outlier = warm and score is not None and self._label.apply(score) == 1
    if score is not None and isinstance(score, float) and math.isnan(score):
      score = None
    return score, outlier
