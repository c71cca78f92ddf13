import CTensorKernels

/// The optimizer's elementwise loops, vectorised in C (Swift's own loops stay scalar here).
public enum OptimizerKernels {
    /// The scalars of one AdamW step for one parameter group (torch computes them in double, applies them in float).
    public struct AdamWStep: Sendable {
        /// 1 − lr·weight_decay, or nil when the group does not decay.
        public var decayFactor: Float?
        /// lr / (1 − β1^t).
        public var stepSize: Float
        public var oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float
        /// √(1 − β2^t).
        public var biasCorrection2Sqrt: Float
        public var epsilon: Float

        public init(decayFactor: Float?, stepSize: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float,
                    biasCorrection2Sqrt: Float, epsilon: Float) {
            self.decayFactor = decayFactor; self.stepSize = stepSize; self.oneMinusBeta1 = oneMinusBeta1
            self.beta2 = beta2; self.oneMinusBeta2 = oneMinusBeta2; self.biasCorrection2Sqrt = biasCorrection2Sqrt
            self.epsilon = epsilon
        }
    }

    /// `count` parameters one AdamW step on `gradients · gradientScale` (clipping's factor, applied as the
    /// step reads each gradient, so the gradients take no pass of their own): p (decayed first), then m, v
    /// and p updated in place, each operation rounded on its own as in torch's single-tensor AdamW.
    public static func adamWUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, gradientScale: Float = 1,
        firstMoments: UnsafeMutablePointer<Float>, secondMoments: UnsafeMutablePointer<Float>, count: Int,
        step: AdamWStep
    ) {
        mlm_adamw_update(parameters, gradients, gradientScale, firstMoments, secondMoments, count,
                         step.decayFactor == nil ? 0 : 1, step.decayFactor ?? 1, step.stepSize, step.oneMinusBeta1, step.beta2, step.oneMinusBeta2,
                         step.biasCorrection2Sqrt, step.epsilon)
    }

    /// Σ x², summed in float in a fixed order.
    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Float {
        mlm_sum_of_squares(values, count)
    }
}
