// GlassboxPapers — the paper catalog and the arXiv client.
import Foundation
