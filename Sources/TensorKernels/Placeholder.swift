// Placeholder until the TensorKernels module lands; replaced by its owner.
