extension ProfileSchema {
    /// The fleet, MQTT, telemetry and twin keys (README order).
    static let deviceKeys: [ProfileKey] = [
        ProfileKey(
            "fleet.devices",
            .whole(1, 10_000_000),
            default: "`100`",
            doc: """
                number of devices (`--devices`)
                """
        ),
        ProfileKey(
            "fleet.id_prefix",
            .text,
            default: "`device-`",
            doc: """
                ids are prefix + zero-padded index (`device-00042`)
                """
        ),
        ProfileKey(
            "fleet.ramp_rate",
            .rateOrUnlimited,
            default: "`500`",
            doc: """
                new connects per second; `0` = only the window limits them (else 0.001 to 1e9)
                """
        ),
        ProfileKey(
            "fleet.max_in_flight",
            .wholeOrAuto(1, 1_000_000),
            default: "`500`",
            doc: """
                first connects waiting for CONNACK at once (1 to 1,000,000; reconnects are not windowed, \
                as in the SDKs), or `auto`: a window that starts at 16, grows while connects stay fast \
                and halves when one is slow (16 × the fastest and at least 2 ms: the hub's backlog is \
                filling) or fails, and past slow start keeps at most 32 connects waiting beyond the \
                fastest connect's time, so a storm connects as fast as the hub accepts without \
                overflowing its listen backlog (dropped SYNs cost a 1 s retransmit); the report's \
                `connect_window` series shows it over time. A fixed window overflows a hub on purpose. \
                Shards split a fixed window; with `auto` each of N shards starts at 1/N of 16 and keeps \
                1/N of the 32 waiting. FleetSim treats `auto` as no window
                """
        ),
        ProfileKey(
            "fleet.source_addresses",
            .list,
            default: "`[]`",
            doc: """
                local addresses to spread connections over: addresses and IPv4 ranges, e.g. \
                `[127.0.0.2-127.0.0.40, 127.0.1.1]`; shards split the list when it has at least one \
                address per shard. Empty: the kernel chooses, except that a fleet (or shard) of over \
                4,000 devices against a hub on 127.x spreads over 127.0.S.1, .2, ... (one address per \
                4,000 devices; S is the shard's index, 0 unsharded). The pre-flight check refuses more \
                devices per address than 90 % of `net.ipv4.ip_local_port_range`
                """
        ),
        ProfileKey(
            "mqtt.version",
            .text,
            default: "`\"3.1.1\"`",
            doc: """
                `"3.1.1"` or `"5"`
                """
        ),
        ProfileKey(
            "mqtt.keep_alive",
            .time(.zero, .seconds(65535)),
            default: "`60s`",
            doc: """
                keep-alive sent in CONNECT; PINGREQ after this much silence
                """
        ),
        ProfileKey(
            "mqtt.clean_session",
            .flag,
            default: "`true`",
            doc: """
                clean session (3.1.1) / clean start (5)
                """
        ),
        ProfileKey(
            "mqtt.connect_timeout",
            .time(.milliseconds(1), nil),
            default: "`30s`",
            doc: """
                TCP connect limit
                """
        ),
        ProfileKey(
            "mqtt.connack_timeout",
            .time(.milliseconds(1), nil),
            default: "`30s`",
            doc: """
                CONNECT → CONNACK limit
                """
        ),
        ProfileKey(
            "mqtt.subscribe_c2d",
            .flag,
            default: "`false`",
            doc: """
                subscribe to `devices/{id}/messages/devicebound/#` (QoS 1) after each CONNACK
                """
        ),
        ProfileKey(
            "telemetry.messages",
            .whole(0, 100_000_000),
            default: "`10`",
            doc: """
                messages per device; the device disconnects once all are acknowledged
                """
        ),
        ProfileKey(
            "telemetry.stay_connected",
            .flag,
            default: "`false`",
            doc: """
                after the last message, stay connected (keep-alive only) until the run ends \
                (`connect-storm.yaml`)
                """
        ),
        ProfileKey(
            "telemetry.interval",
            .time(.zero, nil),
            default: "`1s`",
            doc: """
                time between a device's messages (intended send times lie on this grid); `0` = closed \
                loop: the next message goes as soon as the in-flight window has room, latency measured \
                from that moment (QoS 1 only)
                """
        ),
        ProfileKey(
            "telemetry.payload_bytes",
            .whole(0, 256 * 1024),
            default: "`64`",
            doc: """
                payload size (at most 256 KB, IoT Hub's limit)
                """
        ),
        ProfileKey(
            "telemetry.template",
            .text,
            default: "none",
            doc: """
                a body written per message instead of `payload_bytes` of filler: text with variables in \
                double braces, e.g. `{"deviceId": "{{device_id}}", "seq": {{seq}}, "t": {{walk min=15 \
                max=30 step=0.2 decimals=1}}}` (see "Payload templates" below); checked when the profile \
                loads: an unknown variable or a bad range names the line and column, the longest body \
                must fit IoT Hub's 256 KB, and with `content_type: application/json` the first bodies \
                must be JSON
                """
        ),
        ProfileKey(
            "telemetry.template_file",
            .text,
            default: "none",
            doc: """
                the same template read from a file (relative to the profile); give `template` or \
                `template_file`, not both, and no `payload_bytes` beside either
                """
        ),
        ProfileKey(
            "telemetry.mix",
            .list,
            default: "none",
            doc: """
                a message mix: a list of kinds, each `{name: reading, weight: 95}` with optionally its \
                own `template` / `template_file` or `payload_bytes` (else the section's) and `qos` (else \
                `telemetry.qos`); each message is of one kind, drawn by weight from the device's seed \
                and the message id (so a re-sent message keeps its kind, QoS and body); the report \
                counts generated and acknowledged messages and times publish→ack per kind as well as in \
                total; names: 1–64 letters, digits, `-`, `_`, `.`
                """
        ),
        ProfileKey(
            "telemetry.qos",
            .whole(0, 1),
            default: "`1`",
            doc: """
                `0` or `1` (IoT Hub has no QoS 2)
                """
        ),
        ProfileKey(
            "telemetry.properties",
            .mapping,
            default: "`{}`",
            doc: """
                application properties in the topic's property bag \
                (`devices/{id}/messages/events/k=v&...`)
                """
        ),
        ProfileKey(
            ["telemetry.content_type", "telemetry.content_encoding"],
            .text,
            default: "none",
            doc: """
                the message's content type and encoding system properties (e.g. `application/json`, \
                `utf-8`; IoT Hub routes on the body only with these): `%24.ct=` / `%24.ce=` in the \
                topic's property bag right after `%24.mid` as the Python SDK writes them, \
                `iothub-contenttype` / `iothub-contentencoding` headers over HTTPS, the properties \
                section's content-type and content-encoding over AMQP; printable ASCII without spaces
                """
        ),
        ProfileKey(
            "telemetry.drain_timeout",
            .time(.zero, nil),
            default: "`30s`",
            doc: """
                how long a device waits for its last acknowledgements
                """
        ),
        ProfileKey(
            "twin.get_on_connect",
            .flag,
            default: "`false`",
            doc: """
                after each accepted CONNACK, subscribe to `$iothub/twin/res/#` and GET the twin (what an \
                application with a desired-property handler does on each connection); MQTT and AMQP \
                devices (over AMQP the requests go on the twin sender and receiver links, \
                `/devices/{id}/twin`), not the HTTPS device API
                """
        ),
        ProfileKey(
            "twin.report_interval",
            .time(.zero, .seconds(86_400)),
            default: "`0s`",
            doc: """
                a reported-properties PATCH every this long while connected, on a grid from the first \
                connection (`0`: none; else 100 ms … 1 day); one twin request at a time per device, the \
                GET first
                """
        ),
        ProfileKey(
            "twin.report_bytes",
            .whole(17, 32_768),
            default: "`64`",
            doc: """
                size of the reported-properties JSON document (17 … 32,768 bytes: IoT Hub's 32 KB)
                """
        ),
        ProfileKey(
            "twin.timeout",
            .time(.milliseconds(100), .seconds(3_600)),
            default: "`60s`",
            doc: """
                how long a twin operation may take, retries included, before the device gives it up: a \
                429 is retried after the device's throttled retry delay, a 5xx after its retry delay, \
                any other status ends it; the report counts operations, requests, answers by status, \
                completed and given up, and times `twin_get` / `twin_patch`
                """
        ),
        ProfileKey(
            "telemetry.queue_capacity",
            .whole(0, 10_000_000),
            default: "`1000`",
            doc: """
                messages a device keeps while it cannot send (disconnected, or in-flight window full)
                """
        ),
        ProfileKey(
            "telemetry.queue_overflow",
            .text,
            default: "`drop-oldest`",
            doc: """
                `drop-oldest`, `drop-newest` (both count the loss as `queue_overflow`) or \
                `block-generation`
                """
        ),
        ProfileKey(
            "telemetry.max_inflight",
            .whole(1, 65_535),
            default: "`64`",
            doc: """
                unacknowledged QoS 1 messages at once; more wait in the queue
                """
        ),
    ]
}
