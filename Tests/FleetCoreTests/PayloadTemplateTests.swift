import Foundation
import NIOCore
import Testing

@testable import FleetCore

/// `telemetry.template`: the variables, their ranges, the bounded walk, and errors that name line and column.
@Suite("Payload templates")
struct PayloadTemplateTests {
    static func body(_ t: PayloadTemplate, id: String = "dev-7", seq: UInt64, ms: Int64 = 0, seed: UInt64 = 1) -> String
    {
        String(decoding: t.rendered(.init(deviceID: id, seq: seq, unixMillis: ms, seed: seed)), as: UTF8.self)
    }

    @Test("identity, sequence, time and counter variables expand exactly")
    func fixedVariables() throws {
        let t = try PayloadTemplate(
            #"{"id":"{{device_id}}","c":"{{cohort}}","seq":{{seq}},"ts":"{{time}}","ms":{{time_ms}},"# + "\n"
                + #""n":{{counter start=100 step=5 max=110}},"up":{{ counter }}}"#
        ).forCohort("thermostats", messages: 10)
        // 2026-12-06T07:00:00.042Z is 1,796,540,400,042 ms after the epoch.
        #expect(
            Self.body(t, seq: 1, ms: 1_796_540_400_042)
                == #"{"id":"dev-7","c":"thermostats","seq":1,"ts":"2026-12-06T07:00:00.042Z","ms":1796540400042,"#
                + "\n" + #""n":100,"up":0}"#
        )
        #expect(Self.body(t, seq: 3).hasSuffix(#""n":110,"up":2}"#))
        #expect(Self.body(t, seq: 4).hasSuffix(#""n":100,"up":3}"#), "the counter wraps after max")
    }

    @Test("time prints what Foundation's ISO 8601 formatter prints, over seeded random instants")
    func timeMatchesFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var rng = SplitMix64(seed: 11)
        for i in 0..<2_000 {
            // Around the epoch, leap days, centuries and 2026; then anywhere in 1970–2200.
            let ms =
                i < 8
                ? [
                    0, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 1_796_540_400_042, 86_399_999, 1,
                    1_709_164_800_000,
                ][i]
                : Int64(rng.next() % 7_258_118_400_000)
            var buffer = ByteBuffer()
            PayloadTemplate.writeTime(ms, into: &buffer)
            // Whole seconds through Foundation (exact as a Double), the milliseconds appended.
            let seconds = formatter.string(from: Date(timeIntervalSince1970: Double(ms / 1000)))
            let millis = String(ms % 1000)
            let expected = seconds.dropLast() + "." + String(repeating: "0", count: 3 - millis.count) + millis + "Z"
            #expect(String(buffer: buffer) == expected, "ms \(ms)")
        }
    }

    @Test("decimals print like String(format:) and integers like String, over seeded random values")
    func numbersMatchAModel() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<5_000 {
            let decimals = Int(rng.next() % 10)
            // Values on the decimal grid, so the model has no rounding tie to break differently.
            let scale = pow(10.0, Double(decimals))
            let units = Int64(bitPattern: rng.next()) % Int64(1e6 * scale)
            let v = Double(units) / scale
            var buffer = ByteBuffer()
            PayloadTemplate.writeDecimal(v, decimals: decimals, into: &buffer)
            var expected = String(format: "%.\(decimals)f", v)
            if expected.hasPrefix("-") && expected.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
                expected.removeFirst()  // we print zero unsigned
            }
            #expect(String(buffer: buffer) == expected, "\(v) with \(decimals) decimals")
            let n = Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)
            var ints = ByteBuffer()
            PayloadTemplate.writeInteger(n, into: &ints)
            #expect(String(buffer: ints) == String(n))
        }
    }

    @Test("random variables stay in range, reach both ends, and depend only on device seed, message and slot")
    func randomVariables() throws {
        let t = try PayloadTemplate(
            "{{int min=-3 max=3}} {{float min=18 max=25 decimals=1}} {{choice values=on|off|idle}}"
        )
        var ints = Set<Int>()
        var choices = Set<String>()
        for seed in UInt64(1)...20 {
            for seq in UInt64(1)...50 {
                let parts = Self.body(t, seq: seq, seed: seed).split(separator: " ")
                let i = try #require(Int(parts[0]))
                let f = try #require(Double(parts[1]))
                #expect((-3...3).contains(i))
                #expect(f >= 18 && f <= 25)
                #expect(parts[1].split(separator: ".").last?.count == 1)
                ints.insert(i)
                choices.insert(String(parts[2]))
                #expect(Self.body(t, seq: seq, seed: seed) == Self.body(t, seq: seq, seed: seed))
            }
        }
        #expect(ints == Set(-3...3))
        #expect(choices == ["on", "off", "idle"])
        #expect(
            Self.body(t, seq: 1, seed: 1) != Self.body(t, seq: 1, seed: 2)
                || Self.body(t, seq: 2, seed: 1) != Self.body(t, seq: 2, seed: 2)
        )
        // Two identical variables draw apart (each has its own slot).
        let twins = try PayloadTemplate("{{int min=0 max=1000000}} {{int min=0 max=1000000}}")
        let differ = (UInt64(1)...20).filter { seq in
            let p = Self.body(twins, seq: seq).split(separator: " ")
            return p[0] != p[1]
        }
        #expect(differ.count >= 19)
    }

    @Test("the walk stays within its bounds, moves by about `step` per message, and is the same when asked again")
    func walk() throws {
        let wide = try PayloadTemplate("{{walk start=0 min=-1000000 max=1000000 step=2 decimals=6}}").forCohort(
            "c",
            messages: 4_096
        )
        var values: [Double] = []
        for seq in UInt64(1)...4_096 { values.append(try #require(Double(Self.body(wide, seq: seq, seed: 3)))) }
        let diffs = zip(values.dropFirst(), values).map { $0 - $1 }
        let variance = diffs.map { $0 * $0 }.reduce(0, +) / Double(diffs.count)
        // A Brownian bridge sampled at whole steps has independent increments of variance step² (= 4).
        #expect(variance > 4 * 0.85 && variance < 4 * 1.15, "variance of one step \(variance)")
        let lagTwo =
            zip(values.dropFirst(2), values).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(values.count - 2)
        #expect(lagTwo > 8 * 0.85 && lagTwo < 8 * 1.15, "variance over two steps \(lagTwo)")
        // Pure: message 1,000 re-rendered after message 4,096 repeats its value.
        #expect(Double(Self.body(wide, seq: 1_000, seed: 3)) == values[999])

        let narrow = try PayloadTemplate("{{walk start=21.5 min=20 max=23 step=0.4 decimals=1}}").forCohort(
            "c",
            messages: 10_000
        )
        var seen = Set<String>()
        for seed in UInt64(1)...5 {
            for seq in UInt64(1)...2_000 {
                let text = Self.body(narrow, seq: seq, seed: seed)
                let v = try #require(Double(text))
                #expect(v >= 20 && v <= 23, "\(v)")
                seen.insert(text)
            }
        }
        #expect(seen.contains("20.0") || seen.contains("20.1"), "the walk reaches its lower bound")
        #expect(seen.contains("23.0") || seen.contains("22.9"), "and its upper one")
    }

    @Test("maxBytes bounds every expansion, over seeded random templates and messages")
    func maxBytesIsABound() throws {
        var rng = SplitMix64(seed: 9)
        let variables = [
            "{{device_id}}", "{{seq}}", "{{time}}", "{{time_ms}}", "{{counter start=-50 step=7}}",
            "{{int min=-99999 max=5}}", "{{float min=-9.99 max=9.99 decimals=3}}", "{{choice values=a|bbbbbbb}}",
            "{{walk min=-999 max=999.9 step=50 decimals=0}}", "{{cohort}}",
        ]
        for _ in 0..<200 {
            var text = ""
            for _ in 0..<(1 + rng.next() % 6) { text += "x" + variables[Int(rng.next() % UInt64(variables.count))] }
            let messages = Int(1 + rng.next() % 100_000)
            let t = try PayloadTemplate(text).forCohort("cohort-name", messages: messages)
            let bound = t.maxBytes(deviceIDBytes: 12, cohortBytes: 0, messages: messages)
            for _ in 0..<20 {
                let seq = 1 + rng.next() % UInt64(messages)
                let n = t.rendered(
                    .init(
                        deviceID: "device-00042",
                        seq: seq,
                        unixMillis: Int64(rng.next() % 4_000_000_000_000),
                        seed: rng.next()
                    )
                ).count
                #expect(n <= bound, "\(text): \(n) > \(bound)")
            }
        }
    }

    @Test("a problem names its line and column in the template, in words")
    func errors() {
        let cases: [(String, Int, Int, String)] = [
            ("{\"t\": {{temprature}}}", 1, 9, "unknown variable \"temprature\""),
            ("{\n  \"t\": {{int min=5 max=1}}\n}", 2, 24, "int max: must be at least min (5), got 1"),
            ("a {{int max=3}}", 1, 3, "int needs min="),
            ("a {{seq", 1, 3, "{{ is not closed with }} on its line"),
            ("x {{float min=1 max=2 decimals=12}}", 1, 32, "float decimals: expected 0 to 9"),
            ("{{walk min=0 max=10 step=0}}", 1, 26, "walk step: must be more than 0"),
            ("{{walk min=0 max=10 step=1 start=11}}", 1, 34, "walk start: must lie between"),
            ("{{choice values=a||b}}", 1, 17, "values: an empty choice"),
            ("{{int min=1 max=2 mx=3}}", 1, 19, "int: unknown argument \"mx\""),
            ("{{int min=1 min=2}}", 1, 13, "int: min is given twice"),
            ("{{int min=x max=2}}", 1, 11, "int min: expected a whole number"),
            ("{{int min=1e300 max=2}}", 1, 11, "int min: expected a whole number"),
            ("{{float min=nan max=2}}", 1, 13, "float min: expected a number within ±1e9"),
            ("{{}}", 1, 1, "an empty {{}}"),
            ("", 1, 1, "the template is empty"),
        ]
        for (text, line, column, message) in cases {
            do {
                _ = try PayloadTemplate(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.line == line && error.column == column, "\(text): \(error)")
                #expect(error.message.hasPrefix(message), "\(text): \(error)")
            }
        }
    }
}
