internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
import Foundation
internal import NIOCore

extension HubConnectionHandler {
    /// Asks the hub's rules how to answer the packet (`HubCore`), feeds the session, runs its actions. False when
    /// the connection was reset instead (the outage fault's `refuse: reset`).
    func process(_ packet: MQTTPacket, now: Instant) -> Bool {
        switch packet {
        case .connect(let c):
            // A blackhole that selects devices by id swallows a new connection's CONNECT too, as the network path of
            // a blackholed device would (the connection had no id to match until now); the CONNECT timeout closes it.
            if state.core.isBlackholed(deviceID: c.clientID, peer: { peer }) { return true }
            accepted(c)
            switch state.core.admitConnect(deviceID: c.clientID, peer: { peer }, now: now) {
            case .reset:
                reset()
                return false
            case .answer(let override, let delay):
                // Only CONNECT needs the wall clock (token expiry).
                session.packetReceived(
                    packet,
                    now: now,
                    nowUnix: Int64(Date().timeIntervalSince1970),
                    override: override,
                    certificate: peerCertificate,
                    into: &actions
                )
                peerCertificate = nil
                run(delay: delay, now: now)
            }
        case .publish(let p) where session.meters(p):
            admit(p, packet: packet, now: now)
        default:
            session.packetReceived(packet, now: now, into: &actions)
            run(delay: nil, now: now)
        }
        return true
    }

    /// Closes with a TCP reset (SO_LINGER 0): the client sees ECONNRESET, no MQTT answer.
    func reset() {
        guard let context else { return }
        session.protocolError(into: &actions)
        actions.removeAll()
        let channel = context.channel
        guard let socket = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func accepted(_ connect: MQTTConnect) {
        if configuration.onRefusal != nil { state.answering = connect }
        encoder.version = connect.version
        guard connect.keepAliveSeconds > 0 else { return }
        idleLimit = .milliseconds(Int64(saturating: Double(connect.keepAliveSeconds) * 1000 * configuration.idleFactor))
    }

    /// A D2C message meets the D2C throttle and the daily quota, a twin request its twin throttle and the quota
    /// (`HubCore`); a refusal closes the connection (a send, over MQTT 3.1.1) or is answered 429/403 (a twin request),
    /// an admitted one is answered after its shaping delay.
    private func admit(_ p: MQTTPublish, packet: MQTTPacket, now: Instant) {
        let unixSeconds = state.unixSeconds(at: now)
        let bytes = p.payload.readableBytes
        switch session.meter(p) {
        case .twin(let update, let rid):
            switch state.core.admitTwin(update: update, payloadBytes: bytes, now: now, unixSeconds: unixSeconds) {
            case .refused(let daily):
                session.twinThrottled(rid: rid, dailyQuota: daily, into: &actions)
                run(delay: nil, now: now)
            case .answer(let delay):
                session.packetReceived(packet, now: now, into: &actions)
                run(delay: delay, now: now)
            }
        case .send:
            let admission = state.core.admitSend(
                deviceID: deviceID,
                peer: { peer },
                payloadBytes: bytes,
                acknowledged: p.qos == .atLeastOnce,
                now: now,
                unixSeconds: unixSeconds
            )
            switch admission {
            case .refused(let daily):
                dailyQuotaRefused = daily
                session.publishThrottled(p, into: &actions)
                run(delay: nil, now: now)
            case .answer(let delay):
                if let sample = state.sample, let deviceID {
                    sample.offer(deviceID: deviceID, topic: p.topic, payload: p.payload, at: now)
                }
                session.packetReceived(packet, now: now, into: &actions)
                run(delay: delay, now: now)
            }
        }
    }
}
