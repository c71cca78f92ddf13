/// Named starting points for a run's settings; options given beside `--recipe` still win. The values come
/// from the adaptation study (Benchmarks/results/adaptation-study.md).
public enum AdaptationRecipe: String, CaseIterable, Codable, Sendable {
    /// Domain-adaptive pretraining: a large unlabeled domain corpus, about one pass.
    case dapt
    /// Task-adaptive pretraining (Gururangan et al. 2020): the task's own unlabeled training texts, many
    /// passes with new masks each pass.
    case tapt

    /// The defaults of a run with this recipe.
    public var defaults: AdaptationSettings {
        var settings = AdaptationSettings.defaults
        settings.mask = .wholeWord
        settings.staticMasking = false
        settings.recipe = self
        switch self {
        case .dapt:
            settings.learningRate = 1e-4
            settings.epochs = 1
        case .tapt:
            settings.learningRate = 1e-4
            settings.epochs = 10
        }
        return settings
    }
}
