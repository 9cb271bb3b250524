// GlassboxFormats: bytes → named Float32 tensors, metadata and tokenizers.
//
// - `GGUFFile` (GGUF v2/v3, memory-mapped; `Dequantize` converts ggml block types)
// - `SafetensorsFile`, `SafetensorsCheckpoint` (single or sharded Hugging Face checkpoints)
// - `TensorFile`: what the two have in common, for model loaders
// - `ByteLevelBPETokenizer`, `WordPieceTokenizer`, `TokenizerLoader`, `ChatMLTemplate`
// - `FormatError`: every failure, naming the file, the field and what was expected
//
// User guide: docs/formats.md. This module knows no architecture.
