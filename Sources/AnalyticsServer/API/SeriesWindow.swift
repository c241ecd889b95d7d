/// The window and step of a series request (`start_time`, `end_time`,
/// `step`), shared by a node's and a chain's series.
///
/// Without `step`: the finest multiple of NETWORK_SERIES_STEP_S that gives
/// at most `NetworkAPI.defaultSteps` steps. Without `start_time`: that many
/// steps back when `step` is given, else a day.
struct SeriesWindow {
    let startMs: Int64
    let endMs: Int64
    /// Seconds per step.
    let step: Int64

    init(_ arguments: QueryArguments, seriesStepS: Int64) throws(APIError) {
        let now = NetworkTime.nowMs()
        endMs = try arguments.timestamp("end_time").map { text throws(APIError) in
            guard let ms = NetworkTime.parse(text) else { throw .badRequest("parameter 'end_time' is out of range") }
            return ms
        } ?? now
        let givenStep = try arguments.optionalInteger("step", in: 1...(366 * 86_400))
        let end = endMs
        startMs = try arguments.timestamp("start_time").map { text throws(APIError) in
            guard let ms = NetworkTime.parse(text) else { throw .badRequest("parameter 'start_time' is out of range") }
            return ms
        } ?? end - (givenStep.map { $0 * NetworkAPI.defaultSteps * 1000 } ?? 86_400_000)
        let windowS = max(1, (endMs - startMs) / 1000)
        let fitting = (windowS + NetworkAPI.defaultSteps - 1) / NetworkAPI.defaultSteps
        step = givenStep ?? max(seriesStepS, (fitting + seriesStepS - 1) / seriesStepS * seriesStepS)
    }
}
