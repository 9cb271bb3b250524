import Testing
@testable import GlassboxReproductions
