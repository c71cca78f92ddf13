// Placeholder until the Checkpoint module lands; replaced by its owner.
