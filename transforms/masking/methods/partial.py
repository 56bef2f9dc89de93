"""partial: keep the last N characters (``keep_last: N``) or the e-mail domain
(``keep: email_domain``), masking the rest.

- ``keep_last: N`` (1..16): ``+49 30 4773545`` -> ``**********3545``. Never more than half of
  the value is kept (a 6-character value keeps at most 3), so a short value is not kept
  whole. Length is preserved.
- ``keep: email_domain``: ``jane.doe@example.com`` -> ``***@example.com``; a value without
  ``@`` becomes ``***``.
- ``mask_char`` (one character, default ``*``).

STRING fields only. Output type: STRING. The kept part may still identify a person in a
small population: partial masking reduces, it does not remove, identifiability.
"""

from beam_pipelines.transforms.masking.methods.common import check_params, int_param, str_param

NAME = 'partial'
KEYED = False


def validate(params, spec, path):
  check_params(params, ('keep_last', 'keep', 'mask_char'), path, NAME)
  if spec.type != 'STRING':
    raise ValueError(f'{path}: partial applies to STRING fields, not {spec.type}')
  if ('keep_last' in params) == ('keep' in params):
    raise ValueError(f'{path}: partial needs exactly one of keep_last: N or keep: email_domain')
  mask_char = str_param(params, 'mask_char', path, '*')
  if len(mask_char) != 1:
    raise ValueError(f'{path}: parameter mask_char must be one character, got {mask_char!r}')
  if 'keep' in params:
    if params['keep'] != 'email_domain':
      raise ValueError(f'{path}: parameter keep must be email_domain, got {params["keep"]!r}')
    return {'keep': 'email_domain', 'mask_char': mask_char}
  return {'keep_last': int_param(params, 'keep_last', path, None, 1, 16), 'mask_char': mask_char}


def output_field(spec, params):
  return spec


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  mask_char = params['mask_char']
  if params.get('keep') == 'email_domain':
    hidden = mask_char * 3

    def mask_email(value):
      at = value.rfind('@')
      return hidden if at < 0 else hidden + value[at:]
    return mask_email
  keep_last = params['keep_last']

  def mask_tail(value):
    n = len(value)
    kept = min(keep_last, n // 2)
    return mask_char * (n - kept) + (value[n - kept:] if kept else '')
  return mask_tail
