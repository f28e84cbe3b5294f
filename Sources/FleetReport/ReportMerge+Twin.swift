extension ReportMerge {
    /// The twin operations of several reports (shards), added up; nil when none made any.
    static func sumTwin(_ all: [Fleetstorm_Report_V1_TwinOperations]) -> Fleetstorm_Report_V1_TwinOperations? {
        guard !all.isEmpty else { return nil }
        return all.reduce(into: Fleetstorm_Report_V1_TwinOperations()) { a, t in
            a.operations += t.operations
            a.requests += t.requests
            a.answersByStatus.merge(t.answersByStatus, uniquingKeysWith: +)
            a.unanswered += t.unanswered
            a.completed += t.completed
            a.gaveUp += t.gaveUp
            a.openAtStop += t.openAtStop
        }
    }
}
