extension ProfileSchema {
    /// SDK, retry, auth, cohorts, faults, FleetSim and netlab link keys (README order).
    static let retryAuthAndModelKeys: [ProfileKey] = [
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
