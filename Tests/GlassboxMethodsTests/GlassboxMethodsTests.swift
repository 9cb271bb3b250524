import Testing
@testable import GlassboxMethods
