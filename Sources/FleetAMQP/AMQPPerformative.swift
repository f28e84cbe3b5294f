public import NIOCore

/// The frame bodies of an AMQP connection (part 2.7): one case per performative, each a value with the spec's fields.
/// Fields with a default in the spec are optional here when "absent" differs from the default for a peer (window
/// sizes, ids); booleans that default to false are plain.
public enum AMQPPerformative: Sendable, Hashable {
    case open(Open)
    case begin(Begin)
    case attach(Attach)
    case flow(Flow)
    case transfer(Transfer)
    case disposition(Disposition)
    case detach(Detach)
    case end(AMQPError?)
    case close(AMQPError?)

    public struct Open: Sendable, Hashable {
        public var containerID: String
        public var hostname: String?
        public var maxFrameSize: UInt32?
        public var channelMax: UInt16?
        /// Milliseconds; the peer must send something (an empty frame will do) within half of it.
        public var idleTimeOut: UInt32?
        public var outgoingLocales: [String] = []
        public var incomingLocales: [String] = []
        public var offeredCapabilities: [String] = []
        public var desiredCapabilities: [String] = []
        public var properties: AMQPMap?

        public init(
            containerID: String,
            hostname: String? = nil,
            maxFrameSize: UInt32? = nil,
            channelMax: UInt16? = nil,
            idleTimeOut: UInt32? = nil
        ) {
            self.containerID = containerID
            self.hostname = hostname
            self.maxFrameSize = maxFrameSize
            self.channelMax = channelMax
            self.idleTimeOut = idleTimeOut
        }
    }

    public struct Begin: Sendable, Hashable {
        public var remoteChannel: UInt16?
        public var nextOutgoingID: UInt32
        public var incomingWindow: UInt32
        public var outgoingWindow: UInt32
        public var handleMax: UInt32?
        public var offeredCapabilities: [String] = []
        public var desiredCapabilities: [String] = []
        public var properties: AMQPMap?

        public init(
            remoteChannel: UInt16? = nil,
            nextOutgoingID: UInt32,
            incomingWindow: UInt32,
            outgoingWindow: UInt32,
            handleMax: UInt32? = nil
        ) {
            self.remoteChannel = remoteChannel
            self.nextOutgoingID = nextOutgoingID
            self.incomingWindow = incomingWindow
            self.outgoingWindow = outgoingWindow
            self.handleMax = handleMax
        }
    }

    /// Which end of a link: the sender (false on the wire) or the receiver (true).
    public enum Role: Sendable, Hashable {
        case sender
        case receiver

        var wire: Bool { self == .receiver }
        init(wire: Bool) { self = wire ? .receiver : .sender }
    }

    public struct Attach: Sendable, Hashable {
        public var name: String
        public var handle: UInt32
        public var role: Role
        /// 0 unsettled, 1 settled, 2 mixed (the default).
        public var senderSettleMode: UInt8?
        /// 0 first (the default), 1 second.
        public var receiverSettleMode: UInt8?
        public var source: AMQPTerminus?
        public var target: AMQPTerminus?
        public var unsettled: AMQPMap?
        public var incompleteUnsettled: Bool = false
        public var initialDeliveryCount: UInt32?
        public var maxMessageSize: UInt64?
        public var offeredCapabilities: [String] = []
        public var desiredCapabilities: [String] = []
        public var properties: AMQPMap?

        public init(
            name: String,
            handle: UInt32,
            role: Role,
            senderSettleMode: UInt8? = nil,
            receiverSettleMode: UInt8? = nil,
            source: AMQPTerminus? = nil,
            target: AMQPTerminus? = nil,
            initialDeliveryCount: UInt32? = nil
        ) {
            self.name = name
            self.handle = handle
            self.role = role
            self.senderSettleMode = senderSettleMode
            self.receiverSettleMode = receiverSettleMode
            self.source = source
            self.target = target
            self.initialDeliveryCount = initialDeliveryCount
        }
    }

    public struct Flow: Sendable, Hashable {
        public var nextIncomingID: UInt32?
        public var incomingWindow: UInt32
        public var nextOutgoingID: UInt32
        public var outgoingWindow: UInt32
        public var handle: UInt32?
        public var deliveryCount: UInt32?
        public var linkCredit: UInt32?
        public var available: UInt32?
        public var drain: Bool = false
        public var echo: Bool = false
        public var properties: AMQPMap?

        public init(
            nextIncomingID: UInt32?,
            incomingWindow: UInt32,
            nextOutgoingID: UInt32,
            outgoingWindow: UInt32,
            handle: UInt32? = nil,
            deliveryCount: UInt32? = nil,
            linkCredit: UInt32? = nil
        ) {
            self.nextIncomingID = nextIncomingID
            self.incomingWindow = incomingWindow
            self.nextOutgoingID = nextOutgoingID
            self.outgoingWindow = outgoingWindow
            self.handle = handle
            self.deliveryCount = deliveryCount
            self.linkCredit = linkCredit
        }
    }

    public struct Transfer: Sendable, Hashable {
        public var handle: UInt32
        public var deliveryID: UInt32?
        public var deliveryTag: [UInt8]?
        public var messageFormat: UInt32?
        public var settled: Bool?
        public var more: Bool = false
        public var receiverSettleMode: UInt8?
        public var state: AMQPDeliveryState?
        public var resume: Bool = false
        public var aborted: Bool = false
        public var batchable: Bool = false
        /// The message bytes (or a part of them when `more`): the frame's bytes after the performative.
        public var payload: ByteBuffer

        public init(
            handle: UInt32,
            deliveryID: UInt32?,
            deliveryTag: [UInt8]?,
            messageFormat: UInt32? = 0,
            settled: Bool? = nil,
            payload: ByteBuffer
        ) {
            self.handle = handle
            self.deliveryID = deliveryID
            self.deliveryTag = deliveryTag
            self.messageFormat = messageFormat
            self.settled = settled
            self.payload = payload
        }
    }

    public struct Disposition: Sendable, Hashable {
        public var role: Role
        public var first: UInt32
        public var last: UInt32?
        public var settled: Bool = false
        public var state: AMQPDeliveryState?
        public var batchable: Bool = false

        public init(role: Role, first: UInt32, last: UInt32? = nil, settled: Bool, state: AMQPDeliveryState?) {
            self.role = role
            self.first = first
            self.last = last
            self.settled = settled
            self.state = state
        }
    }

    public struct Detach: Sendable, Hashable {
        public var handle: UInt32
        public var closed: Bool = false
        public var error: AMQPError?

        public init(handle: UInt32, closed: Bool, error: AMQPError? = nil) {
            self.handle = handle
            self.closed = closed
            self.error = error
        }
    }

    /// The performative's name in the spec, for logs and errors.
    public var name: String {
        switch self {
        case .open: "open"
        case .begin: "begin"
        case .attach: "attach"
        case .flow: "flow"
        case .transfer: "transfer"
        case .disposition: "disposition"
        case .detach: "detach"
        case .end: "end"
        case .close: "close"
        }
    }
}
