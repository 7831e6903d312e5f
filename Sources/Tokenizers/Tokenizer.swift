// Tokenizers: placeholder replaced by the CLIP BPE and SentencePiece implementations.
