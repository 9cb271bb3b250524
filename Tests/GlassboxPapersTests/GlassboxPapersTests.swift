import Testing
@testable import GlassboxPapers
