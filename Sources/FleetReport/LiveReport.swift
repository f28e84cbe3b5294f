/// The live page of `fleetstorm run --ui`: the run report's charts as they stand, which a small inline script
/// replaces every second with the server's latest (`/body`) until the run is done. The static report stays free of
/// scripts; only this page has one.
public enum LiveReport {
    public static func page(body: String) -> String {
        HTMLReport.page(
            title: "FleetStorm — live",
            body: "<div id=\"live\">\(body)</div>",
            head: "<script>\(script)</script>"
        )
    }

    /// What the page shows: a state line (the counts a reader watches grow), then the report's content. `final`
    /// names the report file once the run has ended.
    public static func body(
        _ r: Fleetstorm_Report_V1_Report,
        elapsedSeconds: Double,
        final path: String? = nil
    )
        -> String
    {
        let e = SVGChart.escape
        let connected = r.series.series.first { $0.name == "connected" }?.values.last ?? 0
        var out = "<p class=\"live-state\" id=\"live-state\" data-state=\"\(path == nil ? "running" : "done")\">"
        if let path {
            out +=
                "Finished after \(TextSummary.fixed(elapsedSeconds, 1)) s. The report is in <code>\(e(path))</code>: "
            out +=
                "<code>fleetstorm report \(e(path)) --format html --output report.html</code> writes this page as a file."
        } else {
            out +=
                "Running: \(TextSummary.fixed(elapsedSeconds, 0)) s · <span id=\"live-connected\">\(connected)</span> "
            out += "connected · <span id=\"live-acked\">\(r.accounting.acked)</span> messages acked · "
            out +=
                "<span id=\"live-attempts\">\(r.connections.attempts)</span> connect attempts · updated every second."
        }
        return out + "</p>" + HTMLReport.body(r)
    }

    /// Fetches /body every second and swaps it in; stops when the server says the run is done, or has gone.
    static let script = """
        const refresh = async () => {
          try {
            const answer = await fetch('/body', {cache: 'no-store'});
            document.getElementById('live').innerHTML = await answer.text();
            if (answer.headers.get('X-Run-State') === 'done') return;
          } catch (e) {
            const state = document.getElementById('live-state');
            if (state) state.textContent = 'The run has ended and its live page with it; the report is on disk.';
            return;
          }
          setTimeout(refresh, 1000);
        };
        setTimeout(refresh, 1000);
        """
}
