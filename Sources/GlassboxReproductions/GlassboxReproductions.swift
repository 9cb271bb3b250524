// GlassboxReproductions — see ../../docs/architecture.md for what this module owns.
import GlassboxMethods
import GlassboxPapers
import GlassboxReports
