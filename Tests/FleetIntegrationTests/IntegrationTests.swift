import Testing

/// Every integration suite runs inside this one, one test at a time: they use real time (timeouts, keep-alive,
/// fault windows) and external programs (mosquitto, Python, Chromium, a C compiler), and on two cores a heavy
/// suite beside a timing-sensitive one starves the latter.
@Suite(.serialized) enum IntegrationTests {}
