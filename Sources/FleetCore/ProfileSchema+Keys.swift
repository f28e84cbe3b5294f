extension ProfileSchema {
    /// The keys of the README's tables, in its order (the rows are printed from these).
    static let documented: [ProfileKey] = [
        ProfileKey(
            "name",
            .text,
            default: "`unnamed`",
            doc: """
                shown in reports
                """
        ),
        ProfileKey(
            "description",
            .text,
            default: "empty",
            doc: """
                free text
                """
        ),
        ProfileKey(
            "seed",
            .whole(0, Int.max),
            default: "`1`",
            doc: """
                seed of every random draw (`--seed`)
                """
        ),
        ProfileKey(
            "duration",
            .time(.milliseconds(1), nil),
            default: "`5m`",
            doc: """
                hard bound on the run; devices still running are stopped (`--duration`)
                """
        ),
        ProfileKey(
            "bin",
            .time(.milliseconds(1), .seconds(10)),
            default: "`100ms`",
            doc: """
                width of the report's time-series bins, 1 ms … 10 s (`--bin`); a long run doubles it as \
                needed to keep at most 65,536 bins per series
                """
        ),
        ProfileKey(
            "hub.url",
            .text,
            default: "`embedded`",
            doc: """
                `embedded` (in-process test hub), `mqtt://HOST:PORT`, `mqtts://HOST:PORT` (MQTT over \
                TLS), `ws://HOST:PORT/PATH` or `wss://HOST:PORT/PATH` (MQTT over WebSockets), \
                `https://HOST[:PORT]` (IoT Hub's HTTPS device API, port 443 when omitted), \
                `amqp://HOST[:PORT]` or `amqps://HOST[:PORT]` (AMQP 1.0, ports 5672 / 5671 when \
                omitted), `amqp+ws://…` or `amqp+wss://HOST[:PORT][/PATH]` (AMQP over WebSockets, as \
                ws:// and wss://) (`--hub`)
                """
        ),
        ProfileKey(
            "hub.tls",
            .flag,
            default: "`false`",
            doc: """
                the embedded hub listens with TLS only, on a certificate made for the run, which the \
                devices trust (`mqtts://` URLs always use TLS)
                """
        ),
        ProfileKey(
            "hub.ca_file",
            .text,
            default: "—",
            doc: """
                for `mqtts://`: the CA (PEM) the devices trust, e.g. the `ca.pem` of `fleetstorm hub \
                --generate-cert` (relative to the profile; `--ca-file`)
                """
        ),
        ProfileKey(
            "hub.server_name",
            .text,
            default: "the URL's host",
            doc: """
                the name the devices verify in the certificate and send as SNI (e.g. `localhost` when \
                the URL is an IP address)
                """
        ),
        ProfileKey(
            "hub.websocket",
            .flag,
            default: "`false`",
            doc: """
                the embedded hub serves MQTT over WebSockets (`ws://`, or `wss://` with `hub.tls: true`) \
                at IoT Hub's path `/$iothub/websocket` with subprotocol `mqtt`, and the devices connect \
                that way; for an external hub write `ws://HOST:PORT/PATH` or `wss://…` in `hub.url` \
                (port 80 / 443 and IoT Hub's path when omitted); with an external URL this key may stay \
                if it agrees with the URL (so `--hub ws://…` works on a WebSocket profile), and is \
                refused if it contradicts it
                """
        ),
        ProfileKey(
            "hub.https",
            .flag,
            default: "`false`",
            doc: """
                the embedded hub serves IoT Hub's HTTPS device API (TLS, on a certificate made for the \
                run) and the devices use it: telemetry POSTed, C2D polled; for an external hub write \
                `https://HOST:PORT` in `hub.url`; with an external URL this key may stay if it agrees \
                (`run profiles/https-telemetry.yaml --hub https://HOST:PORT --ca-file ca.pem` works), \
                and is refused if it contradicts it
                """
        ),
        ProfileKey(
            "hub.amqp",
            .flag,
            default: "`false`",
            doc: """
                the embedded hub speaks AMQP 1.0 (`amqps://` with `hub.tls: true`) and the devices use \
                it (reference §11; over WebSockets, subprotocol `AMQPWSB10`, with `hub.websocket: \
                true`): SASL, a CBS put-token per device with its SAS token when `auth.mode: sas` (with \
                `auth.mode: x509` no SASL and no CBS: the TLS certificate is the identity; else the \
                telemetry link's address names the device), telemetry on an unsettled sender link whose \
                `accepted` outcome is the acknowledgement, C2D on a receiver link, twin GET and reported \
                PATCH (`twin:`) on the twin links; for an external hub or broker write \
                `amqp://HOST:PORT`, `amqps://HOST:PORT` or `amqp+wss://HOST:PORT/PATH` in `hub.url` \
                (this key may stay if it agrees); one connection per device unless \
                `amqp.devices_per_connection` pools them; `sdk: azure-python` is refused (its SDK has no \
                AMQP)
                """
        ),
        ProfileKey(
            "cohorts[].transport",
            .text,
            default: "the hub's",
            doc: """
                `mqtt` or `amqp`: a cohort speaking another transport than `hub.url` / `hub.amqp` \
                (embedded hub only, straight over TCP or TLS; the hub then serves both on one port, \
                telling each connection by its first byte)
                """
        ),
        ProfileKey(
            "cohorts[].mix",
            .list,
            default: "the profile's `telemetry.mix`",
            doc: """
                the cohort's own message mix (as `telemetry.mix`)
                """
        ),
        ProfileKey(
            "amqp.devices_per_connection",
            .whole(1, Scenario.AMQPPool.maxDevicesPerConnection),
            default: "`1`",
            doc: """
                AMQP devices per connection (1–995, .NET's pool limit; reference §11.1): each device has \
                its own session, CBS put-token and links on a shared connection opened by the first \
                device and closed by the last; a drop takes all of them at once. Top level or per cohort \
                (a cohort inherits the profile's). Needs devices on AMQP (amqp://, amqps://, or over \
                WebSockets); not with `auth.mode: x509` (a connection presents one certificate)
                """
        ),
        ProfileKey(
            "amqp.pool_size",
            .whole(1, 1_000_000),
            default: "as few as hold the cohort",
            doc: """
                connections in a cohort's pool; device `j` of the cohort rides connection `j % \
                pool_size`; `pool_size × devices_per_connection` must hold the cohort
                """
        ),
        ProfileKey(
            "https.poll_interval",
            .time(.milliseconds(100), .seconds(86_400)),
            default: "`25m`",
            doc: """
                HTTPS devices with `mqtt.subscribe_c2d: true` ask for a C2D message (GET) this often \
                (the C SDK's minimum polling time); 100 ms … 1 day
                """
        ),
        ProfileKey(
            "https.request_timeout",
            .time(.milliseconds(100), .seconds(3600)),
            default: "`100s`",
            doc: """
                an HTTPS request with no answer after this long ends the connection (a stalled or \
                blackholed hub), as an HTTP client's timeout does
                """
        ),
        ProfileKey(
            "https.api_version",
            .text,
            default: "`2021-04-12`",
            doc: """
                the `api-version` of every HTTPS request (the `https:` keys need the HTTPS transport)
                """
        ),
        ProfileKey(
            "hub.fault_proxy",
            .flag,
            default: "`false`",
            doc: """
                put the TCP fault proxy between the devices and an external broker so `faults` apply to \
                it (`--fault-proxy`): `drop`, `outage`, `blackhole`, `slow-connack`, `slow-puback`, \
                `flap`, for all devices
                """
        ),
        ProfileKey(
            "hub.serves_profile",
            .flag,
            default: "`false`",
            doc: """
                the hub at `hub.url` is `fleetstorm hub --profile` serving this same profile (shards of \
                a run, Kubernetes pods): it plays the faults, tier and C2D itself, so they are allowed \
                with an external URL; the run marks the faults' times for its storm records and injects \
                nothing (`run --processes` sets it for its shards)
                """
        ),
        ProfileKey(
            "hub.c2d_interval",
            .time(.milliseconds(10), nil),
            default: "—",
            doc: """
                the embedded hub sends every device that connected one cloud-to-device message this \
                often (devices with `mqtt.subscribe_c2d: true` receive them; at most 50 wait per offline \
                device)
                """
        ),
        ProfileKey(
            "hub.daily_messages",
            .whole(1, Int.max),
            default: "per tier",
            doc: """
                the tier's daily message quota (S1: 400,000 per unit, 4 KB meter); past it D2C sends are \
                refused as IoT Hub's 403002 (PUBACK 0x97 in MQTT 5, a closed connection in 3.1.1)
                """
        ),
        ProfileKey(
            "hub.tier",
            .text,
            default: "—",
            doc: """
                embedded hub throttles of an IoT Hub tier: `F1`, `B1`, `S1`, `B2`, `S2`, `B3`, `S3` (new \
                connections and D2C sends per second, reference §5)
                """
        ),
        ProfileKey(
            "hub.units",
            .whole(1, 200),
            default: "`1`",
            doc: """
                units of the tier (S1: max(100, 12 × units) per second)
                """
        ),
        ProfileKey(
            "hub.burst_seconds",
            .number(0, 86_400),
            default: "`60`",
            doc: """
                seconds of limit-rate traffic a burst may take before CONNACKs/PUBACKs are delayed (0 to \
                86,400)
                """
        ),
        ProfileKey(
            "hub.max_shaping_delay",
            .time(.zero, nil),
            default: "`30s`",
            doc: """
                the longest a CONNACK/PUBACK is delayed; beyond it CONNACK 3 (MQTT 5: 0x9F) or, for \
                sends, PUBACK 0x97 (MQTT 5) / a closed connection (3.1.1)
                """
        ),
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
                filling) or fails, so a storm connects as fast as the hub accepts without overflowing \
                its listen backlog (dropped SYNs cost a 1 s retransmit); the report's `connect_window` \
                series shows it over time. A fixed window overflows a hub on purpose. Shards split a \
                fixed window and each adapt their own; FleetSim treats `auto` as no window
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
        ProfileKey(
            "sdk",
            .text,
            default: "`azure-dotnet`",
            doc: """
                the SDK the devices imitate: `azure-dotnet`, `azure-java`, `azure-node`, `azure-c`, \
                `azure-python` or `mqtt` (a plain paho/mqtt.js client). It decides error classification \
                and status reasons, the keep-alive/ping rule, the api-version and client type in the \
                username, token renewal, the throttled-retry policy and when retrying gives up (.NET: an \
                open after 240 s, reconnects never; Java: 240 s, checked before each attempt; Node: 240 \
                s, checked after each failure; C, Python, mqtt: never)
                """
        ),
        ProfileKey(
            "retry.policy",
            .text,
            default: "the SDK's own curve",
            doc: """
                retry preset or family (`fleetstorm policy --list`): only the curve of waits; changing \
                it changes nothing else
                """
        ),
        ProfileKey(
            "retry.<parameter>",
            .open,
            default: "per policy",
            doc: """
                the policy's parameters: `base`, `cap`, `multiplier`, `jitter`, `attempts`, `delta`, \
                `floor` (the .NET and Java presets' least time between attempt starts), `c`, `ju`, `jd`, \
                `mode`, `delays`, ... (see `fleetstorm policy --list`); `timeout` replaces the SDK's \
                time limit (`0`: never give up)
                """
        ),
        ProfileKey(
            "retry.throttled_policy",
            .text,
            default: "per SDK",
            doc: """
                policy for throttled failures (`sdk: azure-dotnet`: `azure-dotnet-throttled`, `sdk: \
                azure-node`: `azure-node-throttled`, else the same curve)
                """
        ),
        ProfileKey(
            "auth.mode",
            .text,
            default: "`none`",
            doc: """
                `none` (anonymous CONNECT), `sas` (IoT Hub username + SAS token per CONNECT) or `x509` \
                (IoT Hub username, a client certificate per device in the TLS handshake, no password; \
                needs TLS)
                """
        ),
        ProfileKey(
            "auth.certificates",
            .text,
            default: "—",
            doc: """
                `x509` only: a directory with `{id}.pem` and `{id}-key.pem` per device (`fleetstorm hub \
                --generate-device-certs`; relative to the profile); without it the run makes a fleet CA \
                and the devices' certificates, and the embedded hub trusts that CA
                """
        ),
        ProfileKey(
            "auth.hub_host",
            .text,
            default: "`fleetstorm.local`",
            doc: """
                the hub host name in the username and the token's resource URI
                """
        ),
        ProfileKey(
            "auth.group_key",
            .text,
            default: "—",
            doc: """
                DPS group key (base64): each device key is derived from it and the device id
                """,
            secret: true
        ),
        ProfileKey(
            "auth.registry",
            .text,
            default: "—",
            doc: """
                instead of `group_key`: a YAML file `devices: [{id: dev-1, key: BASE64}, ...]` (relative \
                to the profile)
                """
        ),
        ProfileKey(
            "auth.token_ttl",
            .time(.seconds(60), nil),
            default: "`1h`",
            doc: """
                token lifetime; C, Node and Python presets renew by reconnecting before expiry
                """
        ),
        ProfileKey(
            "auth.api_version",
            .text,
            default: "per preset",
            doc: """
                `api-version` in the username (.NET/Java/C `2020-09-30`, Node `2021-04-12`, Python \
                `2019-10-01`)
                """
        ),
        ProfileKey(
            "cohorts",
            .list,
            default: "`[]`",
            doc: """
                shares of the fleet with their own SDK and/or curve: a list of `{name: dotnet, share: \
                0.3, sdk: azure-dotnet}` (or `devices: N` instead of `share`; `retry: {...}` for the \
                cohort's own curve, else the profile's `retry:` if given, else its SDK's; an inherited \
                curve keeps the profile's parameters and takes its throttled curve from the cohort's own \
                SDK unless `retry.throttled_policy` names one); the report breaks results down by cohort
                """
        ),
        ProfileKey(
            "faults",
            .list,
            default: "`[]`",
            doc: """
                scripted faults, a list of `{at: 3s, kind: KIND, ...}` applied by the embedded hub (or \
                the fault proxy); see the fault table below
                """
        ),
        ProfileKey(
            "simulation.rtt",
            .time(.zero, .seconds(60)),
            default: "`1ms`",
            doc: """
                FleetSim only (`fleetstorm simulate`, `tune`; `run` ignores these keys): the network \
                round trip between a device and the hub, half each way
                """
        ),
        ProfileKey(
            "simulation.rtt_jitter",
            .time(.zero, .seconds(60)),
            default: "`0`",
            doc: """
                FleetSim: each one-way trip takes up to this much longer (uniform)
                """
        ),
        ProfileKey(
            "simulation.accept_rate",
            .rateOrUnlimited,
            default: "`0`",
            doc: """
                FleetSim: new TCP connections the hub's listener accepts per second (`0`: as fast as \
                they come); the CONNECT waits for its accept (else 0.001 to 1e9)
                """
        ),
        ProfileKey(
            "simulation.accept_backlog",
            .whole(1, 10_000_000),
            default: "`4096`",
            doc: """
                FleetSim: handshakes waiting for accept; a SYN beyond it is dropped and the device's \
                kernel sends it again after 1 s, 2 s, 4 s, ...
                """
        ),
        ProfileKey(
            ["simulation.connack_delay", "simulation.puback_delay"],
            .time(.zero, .seconds(600)),
            default: "`0`",
            doc: """
                FleetSim: the hub's own time to answer a CONNECT or a PUBLISH, before throttles and \
                faults add theirs
                """
        ),
        ProfileKey(
            "simulation.partitions",
            .whole(0, 64),
            default: "`0`",
            doc: """
                FleetSim: threads the fleet is split over (`0`: 1 below 100,000 devices, 2 from there); \
                each takes every P-th device and a 1/P share of the hub's capacity (accept rate, \
                throttles, quotas, ramp, connect window), so counts differ slightly between partition \
                counts
                """
        ),
        ProfileKey(
            "link.rtt",
            .time(.zero, .seconds(30)),
            default: "`0s`",
            doc: """
                round trip; each way takes half
                """,
            table: .link
        ),
        ProfileKey(
            "link.jitter",
            .time(.zero, .seconds(30)),
            default: "`0s`",
            doc: """
                each way takes up to this much longer, uniformly at random
                """,
            table: .link
        ),
        ProfileKey(
            "link.loss",
            .number(0, 1e9),
            default: "`0`",
            doc: """
                share of segments lost, each way; a lost segment arrives one retransmission timeout (≥ \
                200 ms, else rtt + 4 × jitter) later, in order, as TCP recovers it
                """,
            table: .link
        ),
        ProfileKey(
            "link.rate",
            .text,
            default: "unlimited",
            doc: """
                bits per second each way, shared by every device (`64kbit`, `2mbit`, `9600bit`); each \
                segment also carries 40 bytes of headers
                """,
            table: .link
        ),
    ]
}
