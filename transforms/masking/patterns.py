"""Pattern redaction for text the policy cannot address: unparseable payloads, error messages.

``redact_patterns(text)`` replaces e-mail addresses (``[EMAIL]``), IBANs with a valid
mod-97 checksum (``[IBAN]``), card numbers of 13-19 digits passing the Luhn check
(``[CARD]``), IPv4 and IPv6 addresses (``[IP]``) and phone numbers (``[PHONE]``: a ``+``
international number, or a run of 7-15 digits with optional separators that is not a
date, time or plain decimal). Patterns find *shaped* personal data only: a name, a city or
a customer id in free text is not found. That is why ``mask`` mode also scrubs values by
their JSON key (see ``scrub_json_text``), and why ``drop`` mode exists.
"""

import ipaddress
import re

_EMAIL = re.compile(r'[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}')
_IBAN = re.compile(r'\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b')
_CARD = re.compile(r'(?<![\w.])\d(?:[ \-]?\d){12,18}(?![\w.])')
_IPV4 = re.compile(r'(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)'
                   r'(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w.])')
_IPV6_CANDIDATE = re.compile(r'(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}'
                             r'(?:%\w+)?(?![\w:])')
_PHONE = re.compile(r'(?<![\w.+\-])(?:\+|00)?\(?\d[\d \-().\/]{5,}\d(?![\w])')
_DATE_LIKE = re.compile(r'^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$')
_DECIMAL = re.compile(r'^-?\d+\.\d+$')


def _luhn_ok(digits):
  total = 0
  for i, ch in enumerate(reversed(digits)):
    d = ord(ch) - 48
    if i % 2:
      d *= 2
      if d > 9:
        d -= 9
    total += d
  return total % 10 == 0


def _iban_ok(text):
  compact = text.replace(' ', '')
  if not 15 <= len(compact) <= 34:
    return False
  moved = compact[4:] + compact[:4]
  digits = ''.join(str(int(c, 36)) for c in moved)
  return int(digits) % 97 == 1


def _card(match):
  digits = re.sub(r'\D', '', match.group(0))
  return '[CARD]' if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def _iban(match):
  return '[IBAN]' if _iban_ok(match.group(0)) else match.group(0)


def _ipv6(match):
  text = match.group(0)
  if text.count(':') < 2:
    return text
  try:
    ipaddress.IPv6Address(text.split('%')[0])
  except ValueError:
    return text
  return '[IP]'


def _phone(match):
  text = match.group(0)
  digits = sum(c.isdigit() for c in text)
  if not 7 <= digits <= 15:
    return text
  if not text.startswith(('+', '00')) and (_DATE_LIKE.match(text) or _DECIMAL.match(text)):
    return text
  return '[PHONE]'


def redact_patterns(text):
  """``text`` with e-mails, IBANs, card numbers, IP addresses and phone numbers replaced."""
  if not text:
    return text
  text = _EMAIL.sub('[EMAIL]', text)
  text = _IBAN.sub(_iban, text)
  text = _CARD.sub(_card, text)
  text = _IPV6_CANDIDATE.sub(_ipv6, text)
  text = _IPV4.sub('[IP]', text)
  return _PHONE.sub(_phone, text)


# A Python repr of a string, as quoted by validation messages (maybe truncated with '...',
# possibly right after a backslash: a lone backslash before '...' ends the literal too).
# No length bound: with one, a quoted value longer than the bound was skipped and the quotes
# paired across values (``['<70 chars>', 'Jane Doe']`` left ``Jane Doe`` unquoted).
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\(?=\.\.\.)|\\[^\n])*?(?:'|\.\.\.)"""
                     r"""|"(?:[^"\\\n]|\\(?=\.\.\.)|\\[^\n])*?(?:"|\.\.\.)""")


def scrub_message(text, values=()):
  """An error message or stack trace with quoted values, known payload values and patterned
  personal data removed.

  ``values`` are raw values from the payload (strings of 3+ characters) that must not
  survive; each is removed verbatim and in the truncated ``repr`` form validation uses.
  """
  if not text:
    return text
  for value in sorted(values, key=len, reverse=True):
    if value in text:
      text = text.replace(value, '[REDACTED]')
    shown = repr(value)[1:40]
    if len(shown) >= 3 and shown in text:
      text = text.replace(shown, '[REDACTED]')
  text = _QUOTED.sub("'[REDACTED]'", text)
  return redact_patterns(text)


# Tokens of JSON-like text: a key ("name":), a string (maybe unterminated), a number, a word.
_JSON_TOKEN = re.compile(
    r'"(?P<key>(?:[^"\\]|\\.)*)"\s*:'
    r'|"(?P<str>(?:[^"\\]|\\.)*)(?P<end>"|$)'
    r'|(?P<num>-?\d[\d.eE+\-]*)'
    r'|(?P<word>[^\s\[\]{}:,"]+)')


def looks_like_json(text):
  head = text.lstrip()[:1]
  return head in ('{', '[')


def scrub_json_text(text, keep_keys, subject_key=None, erase_ids=None):
  """Scrubs JSON-like text that could not be parsed (truncated JSON, invalid UTF-8...).

  Every string, number and bare word is replaced by ``"[REDACTED]"`` unless the most recent
  key before it names only ``keep`` fields (``keep_keys``, lower-case leaf names); kept values
  still go through ``redact_patterns``. Keys (field names) are kept.

  Returns ``(scrubbed text, erased)``: ``erased`` is True when ``subject_key`` is followed by
  a value in ``erase_ids``.
  """
  out = []
  pos = 0
  current = None
  erased = False
  for match in _JSON_TOKEN.finditer(text):
    out.append(text[pos:match.start()])
    pos = match.end()
    key = match.group('key')
    if key is not None:
      current = key.lower()
      out.append(match.group(0))
      continue
    literal = match.group('str')
    if literal is None:
      literal = match.group('num') or match.group('word')
      if literal in ('true', 'false', 'null'):
        out.append(literal)
        continue
    if (erase_ids and subject_key is not None and current == subject_key
        and literal in erase_ids):
      erased = True
    if current is not None and current in keep_keys:
      out.append(match.group(0))
    else:
      out.append('"[REDACTED]"')
  out.append(text[pos:])
  return redact_patterns(''.join(out)), erased
