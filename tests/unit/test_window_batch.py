"""The batch window path's integer arithmetic equals Beam's WindowFns, and the GlobalWindow
memo changes nothing but speed."""

from apache_beam.transforms import window
from apache_beam.utils.timestamp import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.beam_patches import global_window
from beam_pipelines.transforms.windowing.event_time import event_time_micros, micros_assigner

MICROS = st.integers(-62135596800 * 10**6, 253402300799 * 10**6 + 999999)


def _beam(window_fn, micros):
  return tuple((w.start.micros, w.end.micros) for w in window_fn.assign(
      window.WindowFn.AssignContext(Timestamp(micros=micros))))


@settings(max_examples=400, deadline=None)
@given(micros=MICROS, size=st.integers(1, 10**11), offset=st.integers(0, 10**11))
def test_fixed_windows_match_beam(micros, size, offset):
  fn = window.FixedWindows(Timestamp(micros=size).micros / 1e6, offset / 1e6)
  assert micros_assigner(fn)(micros) == _beam(fn, micros)


@settings(max_examples=400, deadline=None)
@given(micros=MICROS, periods=st.integers(1, 20), extra=st.integers(0, 10**9),
       period=st.integers(1, 10**9), offset=st.integers(0, 10**9))
def test_sliding_windows_match_beam(micros, periods, extra, period, offset):
  size = periods * period + extra % period  # at most ~21 windows per element
  fn = window.SlidingWindows(size / 1e6, period / 1e6, offset / 1e6)
  assert micros_assigner(fn)(micros) == _beam(fn, micros)


def test_sessions_have_no_integer_assigner():
  assert micros_assigner(window.Sessions(60)) is None


@settings(max_examples=300, deadline=None)
@given(micros=MICROS)
def test_event_time_of_the_validated_form_is_exact(micros):
  text = Timestamp(micros=micros).to_utc_datetime(has_tz=False).strftime(
      '%Y-%m-%dT%H:%M:%S.%f').rjust(26, '0') + 'Z'
  assert event_time_micros(text) == micros == Timestamp.from_rfc3339(text).micros


def test_other_event_time_forms_as_beam_reads_them():
  assert event_time_micros(1.5) == 1_500_000
  assert event_time_micros('2026-11-01T00:00:03+01:00') == \
      Timestamp.from_rfc3339('2026-11-01T00:00:03+01:00').micros


def test_global_window_memo_keeps_the_same_end():
  before = window.GlobalWindow().max_timestamp()
  global_window.apply()
  global_window.apply()  # idempotent
  assert window.GlobalWindow().max_timestamp() == before
  assert window.GlobalWindow() is window.GlobalWindow()
  assert window.GlobalWindows().assign(None)[0].max_timestamp() == before
