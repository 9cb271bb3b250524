import Testing
@testable import GlassboxReports
