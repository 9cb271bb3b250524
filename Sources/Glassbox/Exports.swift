// `import Glassbox` brings in every library module.
@_exported import GlassboxTensor
@_exported import GlassboxFormats
@_exported import GlassboxModels
@_exported import GlassboxMethods
@_exported import GlassboxPapers
@_exported import GlassboxReports
@_exported import GlassboxReproductions
