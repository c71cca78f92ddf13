// Placeholder until the Masking module lands; replaced by its owner.
