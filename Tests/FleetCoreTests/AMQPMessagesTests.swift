import FleetAMQP
import FleetCore
import NIOCore
import Testing

@Suite("AMQP messages from MQTT topics")
struct AMQPMessagesTests {
    @Test("written straight from the topic, a message has the bytes of the one built from values (300 random topics)")
    func directEqualsBuilt() throws {
        var rng = SplitMix64(seed: 1700)
        let keys = [
            "%24.mid", "%24.cid", "%24.ct", "%24.ce", "%24.to", "%24.exp", "%24.uid", "site", "a%20b", "k", "", "x%",
        ]
        let values = ["1", "42", "application%2Fjson", "utf-8", "", "plant%267", "%E2%82%AC", "v=w", "%zz"]
        for _ in 0..<300 {
            var pairs: [String] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let key = keys.randomElement(using: &rng)!
                pairs.append(Bool.random(using: &rng) ? key + "=" + values.randomElement(using: &rng)! : key)
            }
            let kind = ["events", "devicebound", "other"].randomElement(using: &rng)!
            let topic = "devices/dev-1/messages/\(kind)/" + pairs.joined(separator: "&")
            let payload = ByteBuffer(repeating: 0x61, count: [0, 3, 255, 256, 70_000].randomElement(using: &rng)!)
            let built = AMQPMessages.encoded(AMQPMessages.message(topic: topic, payload: payload, deviceID: "dev-1"))
            let direct = AMQPMessages.encoded(topic: topic, payload: payload, deviceID: "dev-1")
            #expect(direct == built, "\(topic)")
            var copy = direct
            let message = try AMQPMessage.decode(from: &copy)
            #expect(message.body.bytes == Array(payload.readableBytesView))
        }
    }
}
