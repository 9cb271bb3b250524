import Testing
@testable import GlassboxFormats
