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

    /// Checks made once the fleet and cohorts are known: the longest body fits in an IoT Hub message, and with a JSON
    /// content type the bodies are JSON.
    static func checkTemplate(_ s: Scenario, telemetry t: Section) throws(ScenarioError) {
        guard let template = s.telemetry.template else { return }
        let key = t.mentions("template") ? "template" : "template_file"
        if t.mentions("payload_bytes") {
            throw t.error(.invalidValue, "payload_bytes", "a template decides the body's size: drop payload_bytes")
        }
        let cohorts = s.effectiveCohorts
        let longest = cohorts.map { template.forCohort($0.name, messages: s.telemetry.messages) }
            .map {
                $0.maxBytes(
                    deviceIDBytes: s.fleet.longestDeviceID,
                    cohortBytes: 0,
                    messages: s.telemetry.messages
                )
            }
            .max() ?? 0
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
        // The first messages of the first device of each cohort (choices and random values vary by message).
        for cohort in cohorts {
            let expanded = template.forCohort(cohort.name, messages: s.telemetry.messages)
            let id = s.fleet.deviceID(cohorts.prefix { $0.name != cohort.name }.reduce(0) { $0 + $1.devices })
            for seq in 1...UInt64(clamping: max(1, min(s.telemetry.messages, 20))) {
                let body = expanded.rendered(
                    PayloadTemplate.Message(deviceID: id, seq: seq, unixMillis: 1_800_000_000_000, seed: 1)
                )
                if (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) == nil {
                    let shown = String(decoding: body.prefix(80), as: UTF8.self)
                    throw t.error(
                        .invalidValue,
                        key,
                        "content_type is application/json but message \(seq) of \(id) is not JSON: \(shown)"
                    )
                }
            }
        }
    }
}
