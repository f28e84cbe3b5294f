import FleetReport
import Foundation
import Testing

extension IntegrationTests {
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
    }
}
