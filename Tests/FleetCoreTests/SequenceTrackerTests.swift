import Testing

@testable import FleetCore

@Suite("Message ids at the hub")
struct SequenceTrackerTests {
    @Test func duplicatesAndOutOfOrderArrivals() {
        var t = SequenceTracker()
        let arrivals = [1, 2, 4, 3, 3, 5, 2, 7, 6, 7].map { t.observe(UInt64($0)) }
        #expect(
            arrivals == [
                .inOrder, .inOrder, .inOrder, .outOfOrder, .duplicate, .inOrder, .duplicate, .inOrder, .outOfOrder,
                .duplicate,
            ]
        )
        #expect(t.contiguous == 7 && t.highest == 7)
    }

    @Test func memoryStaysAtTheGap() {
        var t = SequenceTracker()
        for i in 1...10_000 where i != 5 { _ = t.observe(UInt64(i)) }
        #expect(t.contiguous == 4)
        _ = t.observe(5)
        #expect(t.contiguous == 10_000, "the set above the gap folds into the counter")
    }

    @Test func messageIDsInTopics() {
        #expect(SequenceTracker.messageID(inTopic: "devices/d/messages/events/%24.mid=42&a=b") == 42)
        #expect(SequenceTracker.messageID(inTopic: "devices/d/messages/events/a=b&$.mid=7") == 7)
        #expect(SequenceTracker.messageID(inTopic: "devices/d/messages/events/%24.mid=msg-1") == nil)
        #expect(SequenceTracker.messageID(inTopic: "devices/d/messages/events/") == nil)
        #expect(SequenceTracker.messageID(inTopic: "other/topic") == nil)
    }
}
