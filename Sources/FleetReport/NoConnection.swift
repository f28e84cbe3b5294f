internal import FleetCore

/// A run in which no device ever connected measured nothing: the command says why in one line and exits non-zero.
/// The cause is the most common way the attempts ended, counted on the device side (refusal codes, socket and TLS
/// errors), with what to change; against the embedded hub the hub's own refusal reason is named too.
public enum NoConnection {
    /// One line naming the most common cause and its fix, or nil when a device connected (or the run was cancelled
    /// before any attempt could finish). `x509`: the devices authenticate by certificate (the fix differs).
    public static func explain(_ r: Fleetstorm_Report_V1_Report, x509: Bool = false) -> String? {
        let c = r.connections
        guard c.accepted == 0, c.attempts > 0, !r.run.cancelled else { return nil }
        let refused = c.refusedByCode.max { ($0.value, $1.key) < ($1.value, $0.key) }
        let failed = c.connectionErrors.max { ($0.value, $1.key) < ($1.value, $0.key) }
        let head = "no device connected (\(c.attempts) attempts)"
        if let (code, count) = refused, count >= (failed?.value ?? 0) {
            var line = "\(head): \(count) refused with CONNACK \(code) (\(meaning(code: code)))"
            if let reason = hubReason(r) { line += ", the hub's reason: \(reason)" }
            return line + ": " + fix(code: code, x509: x509)
        }
        if let (kind, count) = failed {
            let text = ConnectionError(rawValue: kind)?.explanation ?? kind
            return "\(head): \(count) ended with \(text)" + fix(error: kind)
        }
        return "\(head): none was answered before the run ended: check the hub's address (--hub) and that it is up"
    }

    /// The hub's most common refusal reason, from the embedded hub's `hub_refused:<reason>` series.
    static func hubReason(_ r: Fleetstorm_Report_V1_Report) -> String? {
        let prefix = "hub_refused:"
        let counts = r.series.series.filter { $0.name.hasPrefix(prefix) }.map {
            (reason: String($0.name.dropFirst(prefix.count)), count: $0.values.reduce(UInt64(0), +))
        }
        return counts.filter { $0.count > 0 }.max { ($0.count, $1.reason) < ($1.count, $0.reason) }?.reason
    }

    static func meaning(code: UInt32) -> String {
        switch code {
        case 1, 0x84: "protocol version not accepted"
        case 2, 0x85: "client identifier not valid"
        case 3, 0x88: "server unavailable"
        case 4, 0x86: "bad user name or password"
        case 5, 0x87: "not authorized"
        case 0x8A: "banned"
        case 0x8C: "bad authentication method"
        case 0x89: "server busy"
        case 0x9F: "connection rate exceeded"
        default: "refused"
        }
    }

    static func fix(code: UInt32, x509: Bool) -> String {
        switch code {
        case 4, 5, 0x86, 0x87, 0x8C:
            x509
                ? "the hub did not accept the devices' certificates: start it with --x509-ca and the CA that signed "
                    + "them (the ca.pem beside auth.certificates), and check auth.hub_host (the hub's --host)"
                : DeviceAuth.advice(hubHost: "HOST")
        case 1, 0x84: "set mqtt.version to one the hub speaks (3.1.1 or 5)"
        case 2, 0x85: "check fleet.id_prefix (IoT Hub takes device ids of letters, digits and -.:_)"
        case 3, 0x88, 0x89, 0x9F: "the hub is down, overloaded or throttling: check its faults and tier"
        default: "check the hub's log for why it refused the devices"
        }
    }

    static func fix(error kind: String) -> String {
        switch kind {
        case "refused", "unreachable", "timed_out": ": check --hub (host and port) and that the hub is started"
        case "tls_untrusted":
            ": give the CA that signed the hub's certificate (--ca-file) and its name (hub.server_name)"
        case "tls": ": check that the hub speaks TLS on that port (mqtts:// for TLS, mqtt:// for plain)"
        default: ""
        }
    }
}
