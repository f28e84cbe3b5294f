import FleetReport
import Foundation
import NIOPosix
import Testing

extension SecondLaneTests {
    /// The HTML report is one self-contained page, and a real browser (headless Chromium) renders its charts.
    @Suite("HTML report in headless Chromium", .serialized)
    struct HTMLReportTests {
        static let chromium = Env.which("chromium") ?? Env.which("chromium-browser")

        @Test func selfContainedPage() throws {
            let report = try InteropTests.shared.get()
            let html = CLITests.temp("report.html")
            defer { try? FileManager.default.removeItem(atPath: html) }
            let r = try CLITests.run(["report", report, "--format", "html", "--output", html])
            #expect(r.status == 0, "\(r.stderr)")
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(page.hasPrefix("<!DOCTYPE html>"))
            #expect(!page.contains("<script") && !page.contains("<link") && !page.contains(" src="), "nothing external")
            let urls = page.components(separatedBy: "http").dropFirst().filter {
                !$0.hasPrefix("://www.w3.org/2000/svg")
            }
            #expect(urls.isEmpty, "only the SVG namespace may look like a URL")
            // Each legend label carries its line's colour as a fill attribute; a stylesheet rule with a fill for
            // `.legend` would override it (CSS beats presentation attributes) and grey every label.
            let style =
                page.components(separatedBy: "<style>").dropFirst().first?.components(separatedBy: "</style>")
                .first ?? ""
            let rules = style.split(separator: "}").filter { $0.contains(".legend") }
            #expect(!rules.isEmpty && rules.allSatisfy { !$0.contains("fill") }, "\(rules)")
            #expect(page.contains("class=\"legend\"") && page.contains("fill=\"#"), "legend labels with their colours")
            for id in [
                "chart-attempts", "chart-connected", "chart-latency", "chart-retry-1", "storms", "faults", "statuses",
            ] {
                #expect(page.contains("id=\"\(id)\""), "\(id) missing")
            }
            #expect(
                page.components(separatedBy: "class=\"fault\"").count - 1 >= 2 * 4,
                "two faults shaded on each time chart"
            )
        }

        @Test(.enabled(if: HTMLReportTests.chromium != nil || Env.isCI, "chromium not installed (.ci/run installs it)"))
        func chromiumRendersTheCharts() throws {
            let browser = try #require(Self.chromium, "chromium not found; .ci/run installs it")
            let report = try InteropTests.shared.get()
            let dir = CLITests.temp("html-check")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let html = "\(dir)/report.html"
            _ = try CLITests.run(["report", report, "--format", "html", "--output", html])
            let common = [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(dir)/profile",
            ]
            let dom = try RealClientTests.run(browser, common + ["--dump-dom", "file://\(html)"])
            #expect(dom.status == 0, "\(dom.err)")
            // The browser parsed the SVG into elements: the charts' bars, lines and shaded windows are in its DOM.
            for id in ["chart-attempts", "chart-connected", "chart-latency", "chart-retry-1"] {
                #expect(dom.out.contains("<svg id=\"\(id)\""), "\(id) not in the rendered DOM")
            }
            #expect(dom.out.contains("<polyline") && dom.out.contains("<rect class=\"fault\""))
            let png = "\(dir)/report.png"
            let shot = try RealClientTests.run(
                browser,
                common + ["--window-size=1000,2400", "--screenshot=\(png)", "file://\(html)"]
            )
            #expect(shot.status == 0, "\(shot.err)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
            let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width == 1000 && height == 2400)
            #expect(bytes.count > 40_000, "charts and tables drawn, not a blank page (\(bytes.count) bytes)")
        }

        /// What a reader sees, measured by the browser's own layout (a script added to a copy of each page reads
        /// the DOM after load and writes what it found into the page, which --dump-dom returns): axis labels never
        /// repeat their neighbour, legend labels take their series' colour, the tune page's point labels overlap
        /// nothing, its axes have ticks, its ranking marks settings over the limit, its heat map names its axes; the
        /// comparison page draws each run in one colour, in its legends and its lines.
        @Test(.enabled(if: HTMLReportTests.chromium != nil || Env.isCI, "chromium not installed (.ci/run installs it)"))
        func pagesReadRightInTheBrowser() throws {
            let browser = try #require(Self.chromium, "chromium not found; .ci/run installs it")
            let dir = CLITests.temp("html-dom")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let tune = "\(dir)/tune.pb"
            let t = try CLITests.run([
                "tune", "profiles/hub-outage.yaml", "--devices", "300", "--repeat", "1", "--tier", "S1", "--quiet",
                "--vary", "retry.policy=full-jitter,equal-jitter,decorrelated-jitter,exponential",
                "--vary", "retry.base=100ms,1s,2s", "--output", tune,
            ])
            #expect(t.status == 0, "\(t.stderr)")
            // Two runs to compare: the same storm under two retry policies (simulated: a second each).
            let policies = ["full-jitter", "exponential"]
            for policy in policies {
                let s = try CLITests.run([
                    "simulate", "profiles/hub-drop-storm.yaml", "--set", "retry.policy=\(policy)", "--quiet",
                    "--output", "\(dir)/\(policy).pb",
                ])
                #expect(s.status == 0, "\(s.stderr)")
            }
            let pages = [
                ("run", ["report", try InteropTests.shared.get()]), ("tune", ["report", tune]),
                ("compare", ["compare"] + policies.map { "\(dir)/\($0).pb" }),
            ]
            for (name, command) in pages {
                let html = "\(dir)/\(name).html"
                let r = try CLITests.run(command + ["--format", "html", "--output", html])
                #expect(r.status == 0, "\(r.stderr)")
                let page = try String(contentsOfFile: html, encoding: .utf8)
                let probe = page.replacingOccurrences(of: "</body>", with: "<script>\(Self.domProbe)</script></body>")
                let probed = "\(dir)/\(name)-probe.html"
                try probe.write(toFile: probed, atomically: true, encoding: .utf8)
                let dom = try RealClientTests.run(
                    browser,
                    [
                        "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/profile",
                        "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", "--dump-dom",
                        "file://\(probed)",
                    ]
                )
                #expect(dom.status == 0, "\(dom.err)")
                #expect(Self.consoleMessages(dom.err).isEmpty, "\(name): \(Self.consoleMessages(dom.err))")
                let json = try #require(
                    dom.out.components(separatedBy: "<pre id=\"dom-check\">").dropFirst().first?
                        .components(separatedBy: "</pre>").first,
                    "the probe did not run in \(name).html"
                )
                let found = try #require(
                    try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                    "\(json)"
                )
                #expect((found["repeats"] as? [String])?.isEmpty == true, "\(name): axis labels repeat: \(json)")
                #expect((found["overlaps"] as? [String])?.isEmpty == true, "\(name): labels overlap: \(json)")
                #expect((found["greyLegends"] as? [String])?.isEmpty == true, "\(name): legends not coloured: \(json)")
                if name == "run" {
                    #expect((found["legends"] as? Int ?? 0) >= 2, "\(json)")
                    #expect((found["tickGroups"] as? Int ?? 0) >= 8, "every chart has tick rows: \(json)")
                } else if name == "compare" {
                    // Every chart: one legend label and one solid line per run, each in its run's colour (the
                    // browser's computed colours), and the same two colours throughout the page.
                    let charts = found["charts"] as? [String: [String: [String]]] ?? [:]
                    #expect(charts.count >= 6, "\(json)")
                    let runs = Set(policies.map { "\($0).pb" })
                    var colours: Set<String> = []
                    for (id, chart) in charts {
                        #expect(Set(chart["legendNames"] ?? []) == runs, "\(id): \(chart)")
                        #expect(chart["legendColours"] == chart["solidColours"], "\(id): \(chart)")
                        colours.formUnion(chart["solidColours"] ?? [])
                    }
                    #expect(colours.count == 2, "one colour per run across the page: \(colours)")
                } else {
                    #expect((found["paretoTicks"] as? Int ?? 0) >= 6, "ticks on both Pareto axes: \(json)")
                    #expect((found["pointLabels"] as? Int ?? 0) >= 1, "\(json)")
                    #expect(found["heatCorner"] as? String == "retry.policy ↓ retry.base →", "\(json)")
                    let over = found["overRanks"] as? [String] ?? []
                    #expect(!over.isEmpty && over.allSatisfy { $0.hasSuffix("!") }, "over-limit rows marked: \(json)")
                }
            }
        }

        /// `run --ui`: a live page during the run whose counts grow (headless Chromium loads it twice, running its
        /// script), then the final state naming the report, and a clear line for a port already taken.
        @Test(.enabled(if: HTMLReportTests.chromium != nil || Env.isCI, "chromium not installed (.ci/run installs it)"))
        func livePageGrowsDuringTheRun() throws {
            let browser = try #require(Self.chromium, "chromium not found; .ci/run installs it")
            let port = try Env.freePort()
            let dir = CLITests.temp("live-ui")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let report = "\(dir)/live.pb"
            let run = try BackgroundFleetstorm(
                [
                    "run", "profiles/quickstart.yaml", "--devices", "100", "--set", "telemetry.messages=100", "--set",
                    "telemetry.interval=100ms", "--quiet", "--ui", "127.0.0.1:\(port)", "--output", report,
                ],
                until: "live page on"
            )
            #expect(run.banner.contains("live page on http://127.0.0.1:\(port)/"), "\(run.banner)")
            func acked() throws -> Int? {
                let dom = try RealClientTests.run(
                    browser,
                    [
                        "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/profile",
                        "--virtual-time-budget=1500", "--enable-logging=stderr", "--v=0", "--dump-dom",
                        "http://127.0.0.1:\(port)/",
                    ]
                )
                #expect(Self.consoleMessages(dom.err).isEmpty, "live page: \(Self.consoleMessages(dom.err))")
                // The embedded hub's counters are on the page too (read while it runs).
                if dom.out.contains("id=\"live-acked\"") { #expect(dom.out.contains("<table id=\"hub\">")) }
                let text = dom.out.components(separatedBy: "id=\"live-acked\">").dropFirst().first
                return text.flatMap { Int($0.prefix { $0.isNumber }) }
            }
            // The first read waits for the first sample (a second in); the counts then grow for about 9 s more.
            var first: Int?
            for _ in 0..<20 where first == nil {
                first = try acked()
                if first == nil { usleep(250_000) }
            }
            usleep(2_000_000)
            let second = try acked()
            let (a, b) = (try #require(first, "no count on the live page"), try #require(second, "no count later"))
            #expect(b > a, "acked on the live page: \(a), then \(b)")
            #expect(run.wait() == 0)
            #expect(FileManager.default.fileExists(atPath: report))
            // The port is free again; taken by another listener, --ui says so in one line.
            let holder = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: port).wait()
            defer { try? holder.close().wait() }
            let busy = try CLITests.run(["run", "profiles/quickstart.yaml", "--ui", "127.0.0.1:\(port)"])
            #expect(busy.status != 0 && busy.stderr.contains("--ui 127.0.0.1:\(port): cannot listen"), "\(busy.stderr)")
            #expect(busy.stderr.split(separator: "\n").count == 1, "\(busy.stderr)")
        }

        /// What the page said on the browser's console (errors, uncaught exceptions, logs), from Chromium's stderr
        /// with `--enable-logging=stderr --v=0`: our pages say nothing.
        static func consoleMessages(_ stderr: String) -> [String] {
            stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        }

        /// Runs in the page after load; writes its findings as JSON into <pre id="dom-check">.
        static let domProbe = """
            window.addEventListener('load', () => {
              const out = {repeats: [], overlaps: [], greyLegends: [], legends: 0, tickGroups: 0, paretoTicks: 0,
                           pointLabels: 0, heatCorner: '', overRanks: []};
              out.charts = {};
              for (const svg of document.querySelectorAll('svg')) {
                const groups = {};
                const legends = [...svg.querySelectorAll('text.legend')];
                if (svg.id.startsWith('cmp-')) out.charts[svg.id] = {
                  legendNames: legends.map(l => l.textContent),
                  legendColours: legends.map(l => getComputedStyle(l).fill),
                  solidColours: [...svg.querySelectorAll('polyline')]
                    .filter(p => !p.getAttribute('stroke-dasharray')).map(p => getComputedStyle(p).stroke)
                };
                for (const t of svg.querySelectorAll('text.tick')) {
                  const x = t.getAttribute('x'), y = t.getAttribute('y');
                  (groups['row ' + y] ||= []).push([parseFloat(x), t.textContent]);
                  (groups['column ' + x] ||= []).push([parseFloat(y), t.textContent]);
                }
                for (const [key, ticks] of Object.entries(groups)) {
                  if (ticks.length < 3) continue;
                  out.tickGroups++;
                  ticks.sort((a, b) => a[0] - b[0]);
                  for (let i = 1; i < ticks.length; i++) {
                    if (ticks[i][1] === ticks[i - 1][1]) out.repeats.push(svg.id + ' ' + key + ': ' + ticks[i][1]);
                  }
                }
                const strokes = new Set([...svg.querySelectorAll('polyline')].map(p => getComputedStyle(p).stroke));
                for (const l of svg.querySelectorAll('text.legend')) {
                  out.legends++;
                  if (!strokes.has(getComputedStyle(l).fill)) out.greyLegends.push(svg.id + ' ' + l.textContent);
                }
              }
              const pareto = document.getElementById('pareto');
              if (pareto) {
                out.paretoTicks = pareto.querySelectorAll('text.x-tick, text.y-tick').length;
                const boxes = [...pareto.querySelectorAll('text.point-label')].map(t => [t.textContent, t.getBBox()]);
                const dots = [...pareto.querySelectorAll('circle')].map(c => ['point', c.getBBox()]);
                out.pointLabels = boxes.length;
                const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
                boxes.forEach(([name, box], i) => {
                  for (const [other, o] of boxes.slice(i + 1).concat(dots)) {
                    if (hit(box, o)) out.overlaps.push(name + ' × ' + other);
                  }
                });
              }
              const corner = document.querySelector('table.heat th');
              if (corner) out.heatCorner = corner.textContent;
              out.overRanks = [...document.querySelectorAll('tr.over td:first-child')].map(td => td.textContent);
              const pre = document.createElement('pre');
              pre.id = 'dom-check';
              pre.textContent = JSON.stringify(out);
              document.body.appendChild(pre);
            });
            """
    }
}
