extension ProfileSchema {
    /// The keys of the README's tables, in its order (the rows are printed from these).
    static let documented: [ProfileKey] = runAndHubKeys + deviceKeys + retryAuthAndModelKeys

    /// The run, the hub and its transports (README order).
    static let runAndHubKeys: [ProfileKey] = [
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
    ]
}
