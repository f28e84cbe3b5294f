import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

@Suite("Hub session: IoT Hub topics, twins, PINGREQ allowance, C2D queues")
struct HubSessionRulesTests {
    static func connected(_ id: String = "dev-1", rules: HubRules = HubRules()) -> HubSession {
        var s = HubSession(rules: rules)
        var actions: [HubAction] = []
        s.packetReceived(.connect(MQTTConnect(version: .v311, clientID: id)), into: &actions)
        return s
    }

    static func publish(_ topic: String, id: UInt16? = 1, body: String = "") -> MQTTPacket {
        .publish(
            MQTTPublish(
                topic: topic,
                payload: ByteBuffer(string: body),
                qos: id == nil ? .atMostOnce : .atLeastOnce,
                packetID: id
            )
        )
    }

    @Test func onlyIoTHubTopicsAreAccepted() {
        var s = Self.connected()
        var a: [HubAction] = []
        s.packetReceived(Self.publish("devices/dev-1/messages/events/%24.mid=1"), into: &a)
        #expect(a == [.record(.message(clientID: "dev-1", messageID: 1)), .write(.puback(MQTTAck(packetID: 1)))])
        a = []
        s.packetReceived(Self.publish("devices/dev-1/modules/m1/messages/events/"), into: &a)
        #expect(a.count == 2)
        a = []
        s.packetReceived(Self.publish("devices/dev-2/messages/events/"), into: &a)
        #expect(a == [.record(.forbiddenTopic), .close(clean: false)], "another device's topic closes the connection")
        #expect(s.isClosed)

        var plain = Self.connected(
            rules: {
                var r = HubRules()
                r.iotHubTopics = false
                return r
            }()
        )
        a = []
        plain.packetReceived(Self.publish("sensors/room-1"), into: &a)
        #expect(a.first == .record(.message(clientID: "dev-1", messageID: nil)), "anonymous hubs take any topic")
    }

    @Test func twinRequestsBecomeTwinActions() {
        var s = Self.connected()
        var a: [HubAction] = []
        s.packetReceived(Self.publish("$iothub/twin/GET/?$rid=7", id: nil), into: &a)
        #expect(a == [.twin(rid: "7", body: nil)])
        a = []
        s.packetReceived(
            Self.publish("$iothub/twin/PATCH/properties/reported/?$rid=8", id: nil, body: "{\"t\":1}"),
            into: &a
        )
        #expect(a == [.twin(rid: "8", body: Array("{\"t\":1}".utf8))])
        a = []
        s.packetReceived(Self.publish("$iothub/twin/GET/", id: nil), into: &a)
        #expect(a.first == .record(.forbiddenTopic), "a twin request needs a $rid")

        var store = TwinStore()
        let first = store.get(deviceID: "dev-1", rid: "1")
        #expect(first.topic == "$iothub/twin/res/200/?$rid=1")
        #expect(String(decoding: first.body, as: UTF8.self) == "{\"desired\":{\"$version\":1},\"reported\":{}}")
        #expect(
            store.patch(deviceID: "dev-1", rid: "2", body: Array("{\"fw\":\"2.0\"}".utf8))
                == "$iothub/twin/res/204/?$rid=2&$version=2"
        )
        #expect(
            String(decoding: store.get(deviceID: "dev-1", rid: "3").body, as: UTF8.self).hasSuffix(
                "\"reported\":{\"fw\":\"2.0\"}}"
            )
        )
        #expect(
            store.patch(deviceID: "dev-1", rid: "4", body: Array(repeating: 32, count: 33_000)).hasPrefix(
                "$iothub/twin/res/400/"
            )
        )
    }

    @Test func subscriptionsFollowIoTHubFilters() {
        var s = Self.connected()
        var a: [HubAction] = []
        let filters = [
            "devices/dev-1/messages/devicebound/#", "$iothub/twin/res/#", "$iothub/methods/POST/#", "weather/#",
            "$iothub/twin/PATCH/properties/desired/#", "devices/dev-1/modules/m1/#", "devices/dev-1/modules/m2/#",
        ]
        s.packetReceived(
            .subscribe(
                MQTTSubscribe(
                    packetID: 3,
                    subscriptions: filters.map { MQTTSubscription(topicFilter: $0, qos: .exactlyOnce) }
                )
            ),
            into: &a
        )
        // QoS 2 is granted as 1; an unknown filter and the sixth subscription are refused.
        #expect(
            a == [.write(.suback(MQTTSubAck(packetID: 3, codes: [1, 1, 1, 0x80, 1, 1, 0x80]))), .deliverCloudToDevice]
        )
    }

    @Test func pingFloodClosesTheConnection() {
        var s = Self.connected()
        var a: [HubAction] = []
        for _ in 0..<10 { s.packetReceived(.pingreq, now: .zero, into: &a) }
        #expect(a.count == 10 && a.allSatisfy { $0 == .write(.pingresp) })
        a = []
        s.packetReceived(.pingreq, now: Instant(nanoseconds: 1_000_000_000), into: &a)
        #expect(a == [.write(.pingresp)], "the allowance refills at 2 per second")
        s.packetReceived(.pingreq, now: Instant(nanoseconds: 1_000_000_000), into: &a)
        a = []
        s.packetReceived(.pingreq, now: Instant(nanoseconds: 1_000_000_000), into: &a)
        #expect(a == [.record(.pingFlood), .close(clean: false)])
    }

    @Test func cloudToDeviceQueueHoldsFifty() {
        var q = CloudToDeviceQueues()
        var accepted = 0
        for _ in 0..<50 where q.enqueue(deviceID: "d") { accepted += 1 }
        #expect(accepted == 50)
        let overflow = q.enqueue(deviceID: "d")
        #expect(!overflow, "the 51st is refused (403004)")
        let pending = q.pending(deviceID: "d", inFlight: [1, 2])
        #expect(pending.count == 48 && pending.first == 3)
        q.completed(deviceID: "d", messageID: 1)
        #expect(q.depth(deviceID: "d") == 49)
        let again = q.enqueue(deviceID: "d")
        #expect(again)
        #expect(
            HubTopics.cloudToDevice(deviceID: "d", messageID: 9).hasPrefix("devices/d/messages/devicebound/%24.mid=9")
        )
    }
}
