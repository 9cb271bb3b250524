import Testing
@testable import GlassboxModels
