import Testing

/// The integration suites run in two lanes, each one test at a time, and the two lanes side by side: they use real
/// time (timeouts, keep-alive, fault windows) and external programs (mosquitto, Python, Chromium, a C compiler), and
/// one lane of everything kept two cores half idle (651 s of wall time for 306 s of CPU, 2026-12-07). This lane holds
/// the suites that keep the loop busy (fleets of thousands, FleetSim beside a real run, shards and hub workers).
@Suite(.serialized) enum IntegrationTests {}

/// The second lane: suites that mostly wait, on SDK detection windows (netlab), on fault windows run over two
/// transports, on Chromium and kubernetes-validate, so a busy test in the first lane does not starve them of the
/// little CPU they need. Names the first lane's helpers the same way its suites do.
@Suite(.serialized) enum SecondLaneTests {
    typealias CLITests = IntegrationTests.CLITests
    typealias RealClientTests = IntegrationTests.RealClientTests
    typealias InteropTests = IntegrationTests.InteropTests
}
