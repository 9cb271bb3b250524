import Testing
@testable import GlassboxTensor
