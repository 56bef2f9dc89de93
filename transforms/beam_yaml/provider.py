"""The Beam YAML provider spec: transform names in YAML -> the constructors in this package."""

# transform name in YAML -> importable constructor (for ``providers: - type: python``).
PROVIDER_TRANSFORMS = {
    'ReadEvents': 'beam_pipelines.transforms.beam_yaml.ReadEventsFromFiles',
    'ParseAndValidate': 'beam_pipelines.transforms.beam_yaml.ParseAndValidateRows',
    'SchemaDrift': 'beam_pipelines.transforms.beam_yaml.HandleSchemaDriftRows',
    'MaskPII': 'beam_pipelines.transforms.beam_yaml.MaskRows',
    'Enrich': 'beam_pipelines.transforms.beam_yaml.EnrichRows',
    'CheckQuality': 'beam_pipelines.transforms.beam_yaml.CheckQualityRows',
    'WriteRowsToBigQuery': 'beam_pipelines.transforms.beam_yaml.WriteRowsToBigQueryTable',
    'WriteRowsToFiles': 'beam_pipelines.transforms.beam_yaml.WriteRowsToLake',
    'MaskDeadLetters': 'beam_pipelines.transforms.beam_yaml.MaskDeadLetterRecords',
    'WriteDeadLetters': 'beam_pipelines.transforms.beam_yaml.WriteDeadLetterRecords',
    'ToJsonLines': 'beam_pipelines.transforms.beam_yaml.ToJsonLines',
}
PROVIDER_SPEC = {'type': 'python', 'transforms': dict(PROVIDER_TRANSFORMS)}
