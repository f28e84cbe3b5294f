import Testing

@testable import FleetSim

/// What FleetSim moves per event stays small: every packet, SYN and FIN of a million-device run is an event on the
/// wire or in the wheel, and the 1,000,000-device figure in README is measured with these sizes. A new packet kind
/// with its fields in the wrong order (a 2-byte field before a 4-byte one) made every wire entry a third larger.
@Suite("FleetSim layout")
struct SimLayoutTests {
    @Test func packetsAndEventsStaySmall() {
        #expect(MemoryLayout<HubPacket>.size <= 7, "HubPacket: \(MemoryLayout<HubPacket>.size) bytes")
        #expect(MemoryLayout<DevicePacket>.size <= 7, "DevicePacket: \(MemoryLayout<DevicePacket>.size) bytes")
        #expect(MemoryLayout<FleetSimulation.Event>.size <= 16, "Event: \(MemoryLayout<FleetSimulation.Event>.size)")
        #expect(MemoryLayout<WireEvent>.stride == 24, "WireEvent: \(MemoryLayout<WireEvent>.stride) bytes")
    }
}
