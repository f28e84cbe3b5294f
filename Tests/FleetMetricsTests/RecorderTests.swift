import FleetCore
import FleetMetrics
import Testing

@Suite("Recorder: phases, outage detection, queued and throttled series")
struct RecorderTests {
    static func t(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @Test func stormPhaseLastsWhileAnyDeviceIsReconnecting() {
        let r = Recorder()
        r.record(.connected(latency: .milliseconds(2)), at: Self.t(10))
        r.record(.acked(latency: .milliseconds(1)), at: Self.t(20))
        r.faultStarted(at: Self.t(1000))
        r.record(.status(from: .connected, to: .disconnectedRetrying, reason: .communicationError), at: Self.t(1030))
        r.record(.acked(latency: .milliseconds(900)), at: Self.t(1100))  // another device, during the storm
        r.record(.status(from: .disconnectedRetrying, to: .connected, reason: .connectionOk), at: Self.t(1500))
        r.record(.connected(latency: .milliseconds(40)), at: Self.t(1500))
        r.record(.acked(latency: .milliseconds(1)), at: Self.t(1600))
        let s = r.capture()
        #expect(s.histograms[Snapshot.phase(Snapshot.publishAck, "storm")]?.totalCount == 1)
        #expect(s.histograms[Snapshot.phase(Snapshot.publishAck, "steady")]?.totalCount == 2)
        #expect(s.histograms[Snapshot.phase(Snapshot.connect, "steady")]?.totalCount == 2, "back, so steady again")
        let detection = s.histograms[Snapshot.outageDetection]
        #expect(detection?.totalCount == 1)
        #expect(abs(Int64(detection?.valueAtPercentile(50) ?? 0) - 30_000_000) < 100_000, "30 ms after the fault")
        #expect(s.series.series(.lost).reduce(0, +) == 1)
    }

    @Test func queuedGaugeAndThrottledCounter() {
        let r = Recorder()
        r.queueChanged(by: 5, at: Self.t(150))
        r.queueChanged(by: -2, at: Self.t(250))
        r.record(.refused(code: 0x9F), at: Self.t(260))
        r.record(.refused(code: 3), at: Self.t(270))
        let s = r.capture()
        #expect(s.series.series(.queued) == [0, 5, 3])
        #expect(s.series.series(.throttled) == [0, 0, 1], "only MQTT 5 says a refusal was throttling")
        #expect(s.series.series(.refused).reduce(0, +) == 2)
    }
}

@Suite("Labelled breakdowns in the time series")
struct LabelledSeriesTests {
    @Test func breakdownsAddUpToTheirSeriesAndSurviveCoarseningAndMerge() {
        var a = TimeSeries(bin: .milliseconds(100), maxBins: 4)
        a.add(.refused, at: Instant(nanoseconds: 50_000_000))
        a.add(.refused, label: "5", at: Instant(nanoseconds: 50_000_000))
        a.add(.refused, at: Instant(nanoseconds: 650_000_000))  // bin 6: coarsens to 200 ms bins
        a.add(.refused, label: "3", at: Instant(nanoseconds: 650_000_000))
        #expect(a.binNanoseconds == 200_000_000)
        #expect(a.labelledKeys == ["refused:3", "refused:5"])
        #expect(a.series(key: "refused:5") == [1, 0, 0, 0])
        #expect(a.series(key: "refused:3") == [0, 0, 0, 1])
        var b = TimeSeries(bin: .milliseconds(200), maxBins: 4)
        b.add(.refused, label: "5", at: Instant(nanoseconds: 250_000_000))
        a.merge(b)
        #expect(a.series(key: "refused:5") == [1, 1, 0, 0])
        let total = a.labelledKeys.map { a.series(key: $0).reduce(0, +) }.reduce(0, +)
        #expect(total == 3)
    }

    @Test func recorderBreaksDownRefusalsAndDisconnects() {
        let r = Recorder()
        r.record(.refused(code: 5), at: .zero)
        r.record(.refused(code: 5), at: .zero)
        r.record(.status(from: .connected, to: .disconnectedRetrying, reason: .communicationError), at: .zero)
        let s = r.capture().series
        #expect(s.series(key: "refused:5") == [2])
        #expect(s.series(key: "disconnects:Communication_Error") == [1])
    }
}
