"""drop: the field is removed from the row and from the output schema."""

NAME = 'drop'
KEYED = False


def validate(params, spec, path):
  from beam_pipelines.transforms.masking.methods.common import check_params
  check_params(params, (), path, NAME)
  return {}


def output_field(spec, params):
  return None


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  raise AssertionError('dropped fields are never compiled')
