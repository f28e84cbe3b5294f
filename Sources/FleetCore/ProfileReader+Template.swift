import Foundation
internal import Yams

/// `telemetry.template` / `telemetry.template_file`: parsed when the profile loads, a problem named by the line and
/// column where the user wrote it.
extension ProfileReader {
    /// IoT Hub's largest device-to-cloud message (reference §4.6: `MaxMessageSize = 256·1024`).
    static let largestMessage = 256 * 1024

    /// The template the telemetry section gives, or nil.
    static func readTemplate(_ t: inout Section) throws(ScenarioError) -> PayloadTemplate? {
        let inline = try t.string("template")
        let file = try t.string("template_file")
        switch (inline, file) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw t.error(.invalidValue, "template_file", "give template or template_file, not both")
        case (let text?, nil):
            do throws(PayloadTemplate.Error) {
                return try PayloadTemplate(text)
            } catch {
                throw t.reader.inlineTemplateError(error, section: t)
            }
        case (nil, let path?):
            let base = URL(fileURLWithPath: t.reader.source).deletingLastPathComponent()
            let full = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
            guard let text = t.reader.readFile(full) else {
                throw t.error(.invalidValue, "template_file", "\(full): cannot read the file (does it exist?)")
            }
            do throws(PayloadTemplate.Error) {
                return try PayloadTemplate(text)
            } catch {
                throw ScenarioError(
                    .invalidValue,
                    key: t.fullKey("template_file"),
                    location: "\(full):\(error.line):\(error.column)",
                    message: error.message
                )
            }
        }
    }

    /// A template error in the profile itself: at the profile's line and column where the block or line scalar lets
    /// us map it exactly, else at the value with the template's own line and column.
    func inlineTemplateError(_ error: PayloadTemplate.Error, section t: Section) -> ScenarioError {
        let relative = t.error(
            .invalidValue,
            "template",
            "line \(error.line), column \(error.column) of the template: \(error.message)"
        )
        guard overrides[t.fullKey("template")] == nil,
            let node = t.entries.first(where: { $0.key == "template" })?.node,
            case .scalar(let scalar) = node, let mark = node.mark
        else { return relative }
        let line: Int
        let column: Int
        switch scalar.style {
        case .literal:
            // `key: |` then the text indented on the lines below: template line k is profile line mark.line + k.
            // The block's indentation is its first non-blank line's.
            line = mark.line + error.line
            guard line - 1 < sourceLines.count,
                let first = sourceLines[mark.line..<line].first(where: { !$0.allSatisfy { $0 == " " } })
            else { return relative }
            column = first.prefix { $0 == " " }.count + error.column
        case .plain where error.line == 1 && !scalar.string.contains("\n"):
            line = mark.line
            column = mark.column + error.column - 1
        case .singleQuoted, .doubleQuoted:
            guard error.line == 1, !scalar.string.contains("\n"), !scalar.string.contains("\\"),
                !scalar.string.contains("'")
            else { return relative }
            line = mark.line
            column = mark.column + error.column
        default:
            return relative
        }
        return ScenarioError(
            .invalidValue,
            key: t.fullKey("template"),
            location: "\(source):\(line):\(column)",
            message: error.message
        )
    }

    /// Checks made once the fleet and cohorts are known: every body a cohort can send fits in an IoT Hub message and,
    /// with a JSON content type, is JSON; a closed loop sends no QoS 0 kind.
    static func checkBodies(_ s: Scenario, telemetry t: Section, cohorts specs: [CohortSpec]) throws(ScenarioError) {
        if s.telemetry.template != nil && t.mentions("payload_bytes") {
            throw t.error(.invalidValue, "payload_bytes", "a template decides the body's size: drop payload_bytes")
        }
        let mainKey = t.mentions("template") ? "template" : "template_file"
        var first = 0
        for (c, cohort) in s.effectiveCohorts.enumerated() {
            let firstID = s.fleet.deviceID(first)
            first += cohort.devices
            // Where this cohort's mix was written: its own section, or the telemetry section.
            let mixSection = c < specs.count && specs[c].mix != nil ? specs[c].section : t
            var bodies: [(section: Section, key: String, template: PayloadTemplate)] = []
            let mix = s.mix(of: cohort)
            if mix.isEmpty, let template = s.telemetry.template { bodies.append((t, mainKey, template)) }
            for (k, kind) in mix.enumerated() {
                if s.telemetry.interval == .zero && (kind.qos ?? s.telemetry.qos) != .atLeastOnce {
                    throw mixSection.error(
                        .invalidValue,
                        "mix[\(k)].qos",
                        "interval 0 (closed loop) needs QoS 1 for every kind: the in-flight window paces it"
                    )
                }
                if let own = kind.template {
                    bodies.append((mixSection, "mix[\(k)].template", own))
                } else if kind.payloadBytes == nil, let template = s.telemetry.template {
                    bodies.append((t, mainKey, template))
                }
            }
            for body in bodies {
                try checkBody(body.template, s, cohort: cohort, firstID: firstID, section: body.section, key: body.key)
            }
        }
    }

    /// One template as cohort `cohort` expands it: its longest body, and JSON under a JSON content type.
    static func checkBody(
        _ template: PayloadTemplate,
        _ s: Scenario,
        cohort: Scenario.Cohort,
        firstID: String,
        section t: Section,
        key: String
    ) throws(ScenarioError) {
        let expanded = template.forCohort(cohort.name, messages: s.telemetry.messages)
        let longest = expanded.maxBytes(
            deviceIDBytes: s.fleet.longestDeviceID,
            cohortBytes: 0,
            messages: s.telemetry.messages
        )
        guard longest <= largestMessage else {
            throw t.error(
                .invalidValue,
                key,
                "a body can expand to \(longest) bytes; IoT Hub takes at most \(largestMessage) (256 KB) per message"
            )
        }
        guard let type = s.telemetry.contentType?.lowercased(),
            type == "application/json" || type.hasPrefix("application/json;")
        else { return }
        // The first messages of the cohort's first device (choices and random values vary by message).
        for seq in 1...UInt64(clamping: max(1, min(s.telemetry.messages, 20))) {
            let body = expanded.rendered(
                PayloadTemplate.Message(deviceID: firstID, seq: seq, unixMillis: 1_800_000_000_000, seed: 1)
            )
            if (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) == nil {
                let shown = String(decoding: body.prefix(80), as: UTF8.self)
                throw t.error(
                    .invalidValue,
                    key,
                    "content_type is application/json but message \(seq) of \(firstID) is not JSON: \(shown)"
                )
            }
        }
    }
}
