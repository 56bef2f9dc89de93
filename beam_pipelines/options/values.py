"""Turning option text into typed values, and the one error every bad option raises.

``ConfigError`` (a ValueError) names the option; the pipelines' ``run()`` turns it into one
line on stderr and exit code 2 before any pipeline starts. ``convert(name, fn, ...)`` runs a
config constructor and re-raises its ValueError as a ConfigError naming ``--name``.
"""

from beam_pipelines.transforms.core.durations import parse_duration  # noqa: F401  (re-exported)


class ConfigError(ValueError):
  """A bad option value; the message names the option."""


def convert(name, fn, *args, **kwargs):
  """Runs a config constructor, re-raising ValueError as ConfigError naming the option."""
  try:
    return fn(*args, **kwargs)
  except ConfigError:
    raise
  except ValueError as e:
    raise ConfigError(f'--{name}: {e}') from None


def convert_by_argument(prefixes, default, fn, *args, **kwargs):
  """Like ``convert``, for a constructor that checks several options at once: the option
  named is the one whose argument the error message starts with (``prefixes``: message
  prefix -> option name), else ``default``."""
  try:
    return fn(*args, **kwargs)
  except ConfigError:
    raise
  except ValueError as e:
    message = str(e)
    name = next((option for prefix, option in prefixes.items()
                 if message.startswith(prefix)), default)
    raise ConfigError(f'--{name}: {message}') from None


def require(value, name):
  """``value``, or ConfigError ``--name is required`` when it is missing or empty."""
  if value is None or str(value).strip() == '':
    raise ConfigError(f'--{name} is required')
  return value


def parse_bool(text):
  """'true'/'1'/'yes' or 'false'/'0'/'no' (any case) -> bool; ValueError otherwise."""
  value = str(text).strip().lower()
  if value in ('true', '1', 'yes'):
    return True
  if value in ('false', '0', 'no'):
    return False
  raise ValueError(f'expected true or false, got {text!r}')


def parse_non_negative_int(text):
  """'0', '42' -> int; ValueError for text that is not a whole number >= 0."""
  try:
    value = int(str(text).strip())
  except ValueError:
    raise ValueError(f'expected a whole number of bytes, got {text!r}') from None
  if value < 0:
    raise ValueError(f'must be 0 or more, got {value}')
  return value


def duration_option(value, name):
  """An optional duration option -> seconds, or None when unset (ConfigError naming it)."""
  if value is None or str(value).strip() == '':
    return None
  return convert(name, parse_duration, value)


def int_option(value, name):
  """An optional integer option -> int, or None when unset (ConfigError naming it)."""
  if value is None or str(value).strip() == '':
    return None
  return convert(name, int, value)


def parse_fields(value):
  """'a, b.c,' -> ('a', 'b.c'): a comma-separated list of field paths."""
  return tuple(f.strip() for f in (value or '').split(',') if f.strip())
