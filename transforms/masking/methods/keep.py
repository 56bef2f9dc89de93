"""keep: the value passes through unchanged (the field is not personal data)."""

NAME = 'keep'
KEYED = False


def validate(params, spec, path):
  from beam_pipelines.transforms.masking.methods.common import check_params
  check_params(params, (), path, NAME)
  return {}


def output_field(spec, params):
  return spec


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  return None  # identity: no per-row work at all
