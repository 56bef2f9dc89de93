"""Durations as the suite writes them: ``90``, ``90s``, ``1.5m``, ``2h``, ``1d``, ``250ms``."""

import re

_DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$')
_UNITS = {'ms': 0.001, 's': 1, None: 1, 'm': 60, 'h': 3600, 'd': 86400}


def parse_duration(text):
  """'90', '90s', '1.5m', '2h', '1d', '250ms' -> seconds (float); a number as is (seconds).
  ValueError for anything else (negative durations included)."""
  if isinstance(text, (int, float)) and not isinstance(text, bool):
    if text < 0 or text != text:
      raise ValueError(f'expected a duration of 0 or more seconds, got {text!r}')
    return float(text)
  match = _DURATION.match(str(text))
  if not match:
    raise ValueError(f'expected a duration like 30s, 5m, 1h or 1d, got {text!r}')
  return float(match.group(1)) * _UNITS[match.group(2)]
