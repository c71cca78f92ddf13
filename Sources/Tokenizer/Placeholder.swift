// Placeholder until the Tokenizer module lands; replaced by its owner.
