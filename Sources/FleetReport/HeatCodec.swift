internal import FleetMetrics

/// The report's compact form of a heat map (`LatencyHeat` in report.proto): only non-empty cells, each as its
/// distance from the one before. Decoding checks what a damaged report could hold instead of trusting it.
enum HeatCodec {
    struct Grid: Equatable {
        var name: String
        /// counts[bin][bucket]
        var counts: [[UInt64]]
    }

    struct DamagedHeat: Error, CustomStringConvertible {
        var description: String
    }

    /// At most this many bins (a run's series holds at most 65,536).
    static let maxBins = 1 << 17

    /// From a series' columns: bucket k's values per bin.
    static func encode(name: String, buckets: [Int: [UInt64]]) -> Fleetstorm_Report_V1_LatencyHeat {
        var heat = Fleetstorm_Report_V1_LatencyHeat()
        heat.name = name
        heat.lowestNs = LatencyHeat.lowestNanoseconds
        heat.perDecade = UInt32(LatencyHeat.perDecade)
        heat.buckets = UInt32(LatencyHeat.buckets)
        let bins = buckets.values.map(\.count).max() ?? 0
        var previous = 0
        for bin in 0..<bins {
            for k in 0..<LatencyHeat.buckets {
                guard let values = buckets[k], bin < values.count, values[bin] > 0 else { continue }
                let cell = bin * LatencyHeat.buckets + k
                heat.cells.append(UInt64(cell - previous))
                heat.counts.append(values[bin])
                previous = cell
            }
        }
        return heat
    }

    static func encode(_ grid: Grid) -> Fleetstorm_Report_V1_LatencyHeat {
        var buckets: [Int: [UInt64]] = [:]
        for k in 0..<LatencyHeat.buckets { buckets[k] = grid.counts.map { k < $0.count ? $0[k] : 0 } }
        return encode(name: grid.name, buckets: buckets)
    }

    /// The grid of a report's heat, checked: this build's bucket layout, as many counts as cells, cells ascending
    /// and within `maxBins`.
    static func decode(_ heat: Fleetstorm_Report_V1_LatencyHeat) throws(DamagedHeat) -> Grid {
        let name = heat.name.isEmpty ? "(unnamed)" : heat.name
        guard heat.lowestNs == LatencyHeat.lowestNanoseconds, heat.perDecade == UInt32(LatencyHeat.perDecade),
            heat.buckets == UInt32(LatencyHeat.buckets)
        else {
            throw DamagedHeat(
                description: "heat \(name): buckets of \(heat.buckets) × \(heat.perDecade) per decade from "
                    + "\(heat.lowestNs) ns are not this version's layout"
            )
        }
        guard heat.cells.count == heat.counts.count else {
            throw DamagedHeat(description: "heat \(name): \(heat.cells.count) cells but \(heat.counts.count) counts")
        }
        let limit = UInt64(clamping: maxBins * LatencyHeat.buckets)
        var cell: UInt64 = 0
        var cells: [(Int, UInt64)] = []
        for (i, delta) in heat.cells.enumerated() {
            let (next, overflow) = cell.addingReportingOverflow(delta)
            guard !overflow, next < limit, i == 0 || delta > 0 else {
                throw DamagedHeat(description: "heat \(name): cell \(i) is out of order or beyond \(maxBins) bins")
            }
            cell = next
            cells.append((Int(next), heat.counts[i]))
        }
        let bins = (cells.last.map { $0.0 / LatencyHeat.buckets + 1 }) ?? 0
        var counts = [[UInt64]](repeating: [UInt64](repeating: 0, count: LatencyHeat.buckets), count: bins)
        for (c, n) in cells { counts[c / LatencyHeat.buckets][c % LatencyHeat.buckets] = n }
        return Grid(name: heat.name, counts: counts)
    }
}
