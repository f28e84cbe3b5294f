import FleetCore

/// A payload template from outside (`telemetry.template`, a template file): parsed; when it parses, expanded for
/// messages and devices drawn from the input's tail. Every body must fit the bound the profile check relies on
/// (`maxBytes`, which keeps bodies under IoT Hub's 256 KB), and the same message must expand to the same bytes.
enum TemplateHarness {
    static func run(_ input: [UInt8]) -> String? {
        // The text up to the first NUL; the bytes after it choose messages, ids and seeds.
        let cut = input.firstIndex(of: 0) ?? input.count
        let text = String(decoding: input[..<cut], as: UTF8.self)
        guard let parsed = try? PayloadTemplate(text) else { return nil }
        var choices = FuzzBytes(Array(input[min(cut + 1, input.count)...]))
        let messages = 1 + Int(truncatingIfNeeded: choices.uint64() % 100_000_000)
        let template = parsed.forCohort("cohort-\(choices.byte())", messages: messages)
        let id = "device-" + String(repeating: "9", count: Int(choices.byte() % 12))
        let bound = template.maxBytes(deviceIDBytes: id.utf8.count, cohortBytes: 0, messages: messages)
        for _ in 0..<4 {
            let seq = 1 + choices.uint64() % UInt64(truncatingIfNeeded: messages)
            let message = PayloadTemplate.Message(
                deviceID: id,
                seq: seq,
                unixMillis: Int64(bitPattern: choices.uint64()),
                seed: choices.uint64()
            )
            let body = template.rendered(message)
            if body.count > bound { return "message \(seq) is \(body.count) bytes, over its bound \(bound): \(text)" }
            if body != template.rendered(message) { return "message \(seq) expanded twice to different bytes" }
        }
        return nil
    }
}
