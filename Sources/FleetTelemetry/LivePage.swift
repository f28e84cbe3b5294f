internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import Synchronization

/// The live page of a run (`fleetstorm run --ui HOST:PORT`): `GET /` serves the whole page, `GET /body` its
/// content, which the page's script fetches every second and swaps in (header `X-Run-State: running` or `done`).
/// The caller renders both; this only serves the latest. On its own event loop thread, so a browser never touches
/// the device loop.
public final class LivePage: Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let server = Mutex<(any Channel)?>(nil)
    private let state: Mutex<State>

    struct State {
        var page: String
        var body: String
        var done = false
        /// Requests for the body: a watching browser makes them; after `done`, those of the final content.
        var bodyFetches = 0
        var finalFetches = 0
    }

    /// `page(body)` wraps a body into the whole page; `body` is what shows before the first update.
    public init(page: @escaping @Sendable (String) -> String, body: String) {
        self.wrap = page
        state = Mutex(State(page: page(body), body: body))
    }

    private let wrap: @Sendable (String) -> String

    /// Listens on `host:port`; returns the bound port.
    public func start(host: String, port: Int) async throws -> Int {
        let page = self
        let channel = try await SmallHTTP.listen(group: group, host: host, port: port) { LivePageHandler(page: page) }
        server.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// The run's latest content.
    public func update(body: String) {
        let whole = wrap(body)
        state.withLock { s in
            guard !s.done else { return }
            (s.page, s.body) = (whole, body)
        }
    }

    /// The final content; the page stops asking after it has it.
    public func finish(body: String) {
        let whole = wrap(body)
        state.withLock { s in (s.page, s.body, s.done) = (whole, body, true) }
    }

    /// After `finish`: waits until a browser that was watching has fetched the final content, at most `limit`
    /// (nobody watching: no wait).
    public func awaitFinalFetch(limit: Duration) async {
        let clock = ContinuousClock()
        let end = clock.now + limit
        while clock.now < end {
            let (watched, fetched) = state.withLock { ($0.bodyFetches > 0, $0.finalFetches > 0) }
            if !watched || fetched { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func respond(to path: String) -> (status: HTTPResponseStatus, type: String, body: String, done: Bool) {
        state.withLock { s in
            switch path.split(separator: "?").first.map(String.init) ?? path {
            case "/":
                return (.ok, "text/html; charset=utf-8", s.page, s.done)
            case "/body":
                s.bodyFetches += 1
                if s.done { s.finalFetches += 1 }
                return (.ok, "text/html; charset=utf-8", s.body, s.done)
            default:
                return (.notFound, "text/plain", "not found: the live page is at /\n", s.done)
            }
        }
    }

    public func stop() async {
        if let s = server.withLock({ $0 }) { try? await s.close() }
        try? await group.shutdownGracefully()
    }
}

/// GET / and GET /body; anything else 404.
final class LivePageHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let page: LivePage
    private var path = ""

    init(page: LivePage) { self.page = page }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.uri
        case .body: break
        case .end:
            let answer = page.respond(to: path)
            let state = [("Cache-Control", "no-store"), ("X-Run-State", answer.done ? "done" : "running")]
            SmallHTTP.reply(
                context,
                status: answer.status,
                type: answer.type,
                extra: state,
                body: Array(answer.body.utf8)
            )
        }
    }
}

@available(*, unavailable)
extension LivePageHandler: Sendable {}
