import Foundation
import Testing

@testable import FleetCore
@testable import FleetHubCore

/// The hub's per-message topic readers work on bytes in place (no allocation per message). Each is checked against
/// a plain model written the obvious way (substring searches and splits), over seeded random topics built from the
/// pieces that matter: the device's own prefix, `/messages/events/`, `modules/`, both `$.mid` spellings, `&`,
/// digits, empty pairs and non-ASCII text.
@Suite("Topic parsing against a model")
struct TopicParsingModelTests {
    static let pieces = [
        "devices/", "dev-1", "dev-12", "/", "messages/events/", "/messages/events/", "messages/events", "modules/",
        "m1/", "%24.mid=", "$.mid=", "&", "&&", "42", "18446744073709551615", "18446744073709551616", "-1", "a=b", "+7",
        "-0", "007", "0",
        "é", "😀", "?", "$iothub/twin/GET/", "?$rid=7", "#", "+", "",
    ]

    static func topic(_ rng: inout SplitMix64) -> String {
        let n = Int(rng.next() % 9)
        return (0..<n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    /// The model of `SequenceTracker.messageID(inTopic:)`.
    static func modelMessageID(_ topic: String) -> UInt64? {
        guard let range = topic.range(of: "/messages/events/") else { return nil }
        for pair in topic[range.upperBound...].split(separator: "&") {
            if pair.hasPrefix("%24.mid=") { return UInt64(pair.dropFirst(8)) }
            if pair.hasPrefix("$.mid=") { return UInt64(pair.dropFirst(6)) }
        }
        return nil
    }

    /// The model of the device's own-topic reading in `HubTopics.classify` (byte-wise, as MQTT compares topics).
    static func modelOwnTopic(_ topic: String, _ id: String) -> HubTopics.Own? {
        let own = Array("devices/\(id)/".utf8)
        let bytes = Array(topic.utf8)
        guard bytes.starts(with: own) else { return nil }
        let rest = Array(bytes.dropFirst(own.count))
        if rest.starts(with: Array("messages/events/".utf8)) || rest == Array("messages/events".utf8) {
            return .telemetry
        }
        if rest.starts(with: Array("modules/".utf8)) { return .module(Substring(decoding: rest, as: UTF8.self)) }
        return .invalid
    }

    @Test(arguments: 0..<20)
    func readersAgreeWithTheirModels(seed: UInt64) {
        var rng = SplitMix64(seed: 0x70_91C + seed)
        for _ in 0..<2_000 {
            let t = Self.topic(&rng)
            #expect(SequenceTracker.messageID(inTopic: t) == Self.modelMessageID(t), "\(t)")
            let id = ["dev-1", "dev-12", "", "é"][Int(rng.next() % 4)]
            #expect(HubTopics.ownTopic(t, deviceID: id) == Self.modelOwnTopic(t, id), "\(t) for \(id)")
        }
    }

    @Test func knownTopics() {
        #expect(SequenceTracker.messageID(inTopic: "devices/d/modules/m/messages/events/$.mid=9") == 9)
        #expect(SequenceTracker.messageID(inTopic: "devices/d/messages/events/&&%24.mid=3&") == 3)
        #expect(HubTopics.classify("devices/dev-1/messages/events/%24.mid=1", deviceID: "dev-1") == .telemetry)
        #expect(HubTopics.classify("devices/dev-12/messages/events/", deviceID: "dev-1") == .invalid)
        #expect(HubTopics.classify("devices/dev-1", deviceID: "dev-1") == .invalid)
        #expect(HubTopics.classify("devices/dev-1/modules/m1/messages/events", deviceID: "dev-1") == .telemetry)
    }
}
