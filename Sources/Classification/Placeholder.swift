// Placeholder until the Classification module lands; replaced by its owner.
