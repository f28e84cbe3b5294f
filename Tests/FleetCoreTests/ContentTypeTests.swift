import FleetAMQP
import FleetCore
import FleetMQTT
import Foundation
import NIOCore
import Testing

/// `telemetry.content_type` / `content_encoding` as each transport carries them (reference §4.3: "system properties
/// are `$.`-prefixed (percent-encoded as `%24.`): … `$.ct` content-type, `$.ce` content-encoding").
@Suite("Telemetry content type and encoding")
struct ContentTypeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func machine(_ yaml: String) throws -> DeviceStateMachine {
        let scenario = try ScenarioLoader().load(yaml: yaml, source: "ct")
        return DeviceStateMachine(
            deviceID: "dev-sdk-fixture",
            shared: SharedDeviceConfig(DeviceConfig(scenario: scenario)),
            seed: 1,
            key: nil
        )
    }

    @Test("over MQTT the topic carries them as the official Python SDK writes them (its recorded topic, byte for byte)")
    func mqttTopicMatchesTheSDK() throws {
        // The topic in the Azure Python SDK's recorded PUBLISH (../shared/fixtures/mqtt-captures/azure-python-sdk-tls).
        let capture = try Data(
            contentsOf: Self.root.appendingPathComponent(
                "shared/fixtures/mqtt-captures/azure-python-sdk-tls/conn1.client.bin"
            )
        )
        let recorded =
            "devices/dev-sdk-fixture/messages/events/%24.mid=msg-1&%24.ct=application%2Fjson&%24.ce=utf-8&seq=1"
        #expect(capture.range(of: Data(recorded.utf8)) != nil, "the fixture holds the SDK's topic")
        let m = try Self.machine(
            "telemetry: {content_type: application/json, content_encoding: utf-8, properties: {seq: \"1\"}}"
        )
        var topic = ByteBuffer()
        m.writeTopic(seq: 7, into: &topic)
        // Ours differs only in the message id (a sequence number, where the SDK sample used "msg-1").
        #expect(String(buffer: topic) == recorded.replacingOccurrences(of: "msg-1", with: "7"))
    }

    @Test("over AMQP they are the message's content-type and content-encoding; over HTTPS its iothub- headers")
    func amqpAndHTTPS() throws {
        let m = try Self.machine("telemetry: {content_type: application/json, content_encoding: utf-8}")
        var topicBuffer = ByteBuffer()
        m.writeTopic(seq: 3, into: &topicBuffer)
        let topic = String(buffer: topicBuffer)
        var encoded = AMQPMessages.encoded(topic: topic, payload: ByteBuffer(string: "{}"), deviceID: "dev-sdk-fixture")
        let message = try AMQPMessage.decode(from: &encoded)
        #expect(message.properties?.contentType == "application/json")
        #expect(message.properties?.contentEncoding == "utf-8")
        let headers = try #require(DeviceREST.headers(fromTopic: topic, deviceID: "dev-sdk-fixture"))
        #expect(headers.contains { $0.name == "iothub-contenttype" && $0.value == "application/json" })
        #expect(headers.contains { $0.name == "iothub-contentencoding" && $0.value == "utf-8" })
    }

    @Test("a value with spaces, non-ASCII or nothing is refused, naming the key")
    func refused() {
        for (yaml, key) in [
            ("telemetry: {content_type: \"text plain\"}", "telemetry.content_type"),
            ("telemetry: {content_encoding: \"ütf-8\"}", "telemetry.content_encoding"),
            ("telemetry: {content_type: \"\"}", "telemetry.content_type"),
        ] {
            do {
                _ = try ScenarioLoader().load(yaml: yaml, source: "ct")
                Issue.record("loaded: \(yaml)")
            } catch {
                #expect(error.key == key, "\(yaml): \(error)")
            }
        }
    }
}
