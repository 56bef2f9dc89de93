"""Any failure a Beam user has at hand -> the suite's dead-letter record.

``to_dead_letter`` takes what Beam's own error idiom outputs, the bad output of
``beam.Map(f).with_exception_handling()`` (``(element, (exception type, repr, traceback
lines))``), an ``(element, exception)`` pair, or a dead-letter record already (returned as it
is). ``ToDeadLetters(stage)`` applies it to a PCollection, so a step of your own names its
stage and its errors join the suite's dead letters:

    good, bad = rows | beam.Map(score).with_exception_handling()
    errors = bad | ToDeadLetters(stage='scoring')
    (parsed.dead_letters, errors) | beam.Flatten() | WriteDeadLetters(config)

``WriteDeadLetters`` applies the same conversion to whatever it is given (stage ``user`` for
elements that name none), so nothing is lost on the way to the dead-letter table.
"""

import traceback

import apache_beam as beam

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_FIELDS, check_stage,
                                                        make_dead_letter, pipeline_name_of)
from beam_pipelines.transforms.core.elements import (DeadLetter, element_kind, payload_of,
                                                     source_id_of)
from beam_pipelines.transforms.core.messages import RawMessage

_FIELD_NAMES = frozenset(f['name'] for f in DEAD_LETTER_FIELDS)
_REQUIRED = ('payloadString', 'payloadBytes', 'errorType', 'stage')


def is_dead_letter(element):
  """True for a dict with the dead-letter record's fields (at least payload, type, stage)."""
  return isinstance(element, dict) and all(k in element for k in _REQUIRED) and \
      set(element) <= _FIELD_NAMES


def _exception_parts(error):
  """(type name, message, stack trace text) of an exception or of Beam's exception triple."""
  if isinstance(error, BaseException):
    text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    return type(error).__name__, f'{type(error).__name__}: {error}', text or None
  if isinstance(error, tuple) and len(error) == 3 and isinstance(error[0], type):
    exc_type, exc_repr, lines = error
    stack = ''.join(lines) if isinstance(lines, (list, tuple)) else str(lines or '')
    return exc_type.__name__, str(exc_repr), stack or None
  return None


def to_dead_letter(element, stage='user', pipeline=None):
  """One dead-letter record for ``element`` (see the module docstring). An element that is
  neither a failure nor a dead letter becomes one too (errorType ``not_a_dead_letter:<kind>``):
  whatever reaches the dead letters is kept."""
  check_stage(stage)
  if is_dead_letter(element):
    return element
  if isinstance(element, tuple) and len(element) == 2:
    failed, error = element
    parts = _exception_parts(error)
    if parts is not None:
      name, message, stack = parts
      source_id = failed.source_id if isinstance(failed, RawMessage) else source_id_of(failed)
      return make_dead_letter(
          payload_of(failed), stage=stage, error_type=f'exception:{name}',
          message=message[:4000], stacktrace=stack[-16000:] if stack else None,
          source_id=source_id, pipeline=pipeline)
  kind = element_kind(element)
  return make_dead_letter(
      payload_of(element), stage=stage, error_type=f'not_a_dead_letter:{kind}',
      message=f'an element that is not a dead letter ({kind}) reached the dead letters',
      source_id=source_id_of(element), pipeline=pipeline)


class ToDeadLetters(beam.PTransform):
  """Failures (Beam's ``with_exception_handling`` bad output, ``(element, exception)``
  pairs) -> dead-letter records of ``stage``; dead letters pass through unchanged.

  Args:
    stage: the name of the failing step, free text (e.g. ``scoring``).
    pipeline_name: recorded in each dead letter's ``pipeline`` field.
  """

  def __init__(self, stage='user', *, pipeline_name=None, label=None):
    super().__init__(label)
    self._stage = check_stage(stage)
    self._pipeline_name = pipeline_name

  def expand(self, failures):
    return failures | 'ToDeadLetters' >> beam.Map(
        to_dead_letter, self._stage,
        pipeline_name_of(failures.pipeline, self._pipeline_name)).with_output_types(DeadLetter)
