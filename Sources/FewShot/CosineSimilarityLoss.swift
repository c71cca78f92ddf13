/// sentence-transformers' `CosineSimilarityLoss`: the mean squared error between the cosine of each pair's
/// embeddings and its target (1 same class, 0 different).
public enum CosineSimilarityLoss {
    /// `torch.cosine_similarity`'s floor on the norm product.
    static let epsilon = 1e-8

    /// - Parameters:
    ///   - embeddings: `[2P, H]`: the first P rows are the pairs' first texts, the next P their second texts.
    ///   - targets: P targets.
    ///   - gradient: `[2P, H]`, overwritten with d loss / d embeddings.
    /// - Returns: the mean loss over the P pairs.
    public static func lossAndGradient(
        embeddings: UnsafePointer<Float>, targets: [Float], dimension h: Int, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let p = targets.count
        var loss = 0.0
        for pair in 0..<p {
            let u = embeddings + pair * h, v = embeddings + (p + pair) * h
            var dot = 0.0, uu = 0.0, vv = 0.0
            for i in 0..<h {
                dot += Double(u[i]) * Double(v[i])
                uu += Double(u[i]) * Double(u[i])
                vv += Double(v[i]) * Double(v[i])
            }
            let norms = max((uu * vv).squareRoot(), epsilon)
            let cosine = dot / norms
            let error = cosine - Double(targets[pair])
            loss += error * error
            // d cos / du = v / (|u||v|) − cos · u / |u|²  (and symmetrically for v).
            let outer = 2 * error / Double(p)
            let gu = gradient + pair * h, gv = gradient + (p + pair) * h
            let uScale = uu > 0 ? cosine / uu : 0, vScale = vv > 0 ? cosine / vv : 0
            for i in 0..<h {
                let ui = Double(u[i]), vi = Double(v[i])
                gu[i] = Float(outer * (vi / norms - uScale * ui))
                gv[i] = Float(outer * (ui / norms - vScale * vi))
            }
        }
        return p == 0 ? 0 : loss / Double(p)
    }
}
