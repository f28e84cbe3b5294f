internal import FleetMetrics

extension ReportMerge {
    /// Whole bins between a report's start and the earliest start of the merge.
    static func binShift(_ r: Fleetstorm_Report_V1_Report, start: Int64, bin: Int64) -> Int {
        bin > 0 ? Int((r.run.startedUnixNs - start + bin / 2) / bin) : 0
    }

    /// The shards' heat maps added cell by cell, each shifted like its series (a report without heat adds none).
    static func mergeHeat(
        _ reports: [(name: String, report: Fleetstorm_Report_V1_Report)],
        start: Int64,
        bin: Int64
    ) throws(MergeError) -> [Fleetstorm_Report_V1_LatencyHeat] {
        var names: [String] = []
        var sums: [String: [[UInt64]]] = [:]
        for (name, r) in reports {
            let shift = binShift(r, start: start, bin: bin)
            guard shift >= 0, shift <= maxShiftBins else { continue }  // refused with the series' check
            for heat in r.heat {
                let grid: HeatCodec.Grid
                do { grid = try HeatCodec.decode(heat) } catch { throw MergeError(description: "\(name): \(error)") }
                if !names.contains(grid.name) { names.append(grid.name) }
                var sum = sums[grid.name] ?? []
                let needed = shift + grid.counts.count
                guard needed <= HeatCodec.maxBins else {
                    throw MergeError(description: "\(name): heat \(grid.name) ends beyond \(HeatCodec.maxBins) bins")
                }
                while sum.count < needed { sum.append([UInt64](repeating: 0, count: LatencyHeat.buckets)) }
                for (i, row) in grid.counts.enumerated() {
                    for (k, n) in row.enumerated() { sum[shift + i][k] += n }
                }
                sums[grid.name] = sum
            }
        }
        return names.map { HeatCodec.encode(HeatCodec.Grid(name: $0, counts: sums[$0] ?? [])) }
    }
}
