// GlassboxReports — Markdown documents, tables and SVG figures.
import Foundation
