"""Flags a pipeline's ``run()`` takes out of argv itself (``--duration``, ``--watch_interval``):
they say how long and how often this command runs the pipeline; they are not pipeline
options, so a template never sees them."""

from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.core.durations import parse_duration


def take_flag(argv, name):
  """(value or None, argv without ``--name VALUE`` / ``--name=VALUE``); the last one wins.
  A flag without its value gives ``''``."""
  value, rest, i = None, [], 0
  while i < len(argv):
    flag, has_value, text = argv[i].partition('=')
    if flag != f'--{name}':
      rest.append(argv[i])
      i += 1
      continue
    if not has_value:
      text = argv[i + 1] if i + 1 < len(argv) else ''
      i += 1
    i += 1
    value = text
  return value, rest


def positive_seconds(value, name, units=False):
  """A run flag's value -> seconds > 0 (ConfigError naming it). ``units``: ``30s``, ``5m``,
  ``1h`` are accepted besides plain seconds."""
  try:
    seconds = parse_duration(value) if units else float(value)
    if not 0 < seconds < float('inf'):
      raise ValueError
  except ValueError:
    expected = 'a duration > 0 like 30s, 5m or 90 (seconds)' if units else \
        'a number of seconds > 0'
    raise ConfigError(f'--{name}: expected {expected}, got {value!r}') from None
  return seconds
