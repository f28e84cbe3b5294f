public import NIOCore
public import NIOWebSocket

/// MQTT over WebSockets (MQTT 3.1.1 §6, MQTT 5 §6): the MQTT byte stream travels in binary frames; a frame may hold
/// part of a packet or several packets, so inbound frame payloads are passed on as plain bytes, in order, to the
/// MQTT handler behind (devices' `DeviceChannelHandler`, the hub's `HubConnectionHandler`), and every outbound write
/// becomes one binary frame (masked by a client, unmasked by a server, RFC 6455 §5.3). Pings are answered; a close
/// frame is answered and ends the connection with `MQTTWebSocketClosed`; a text frame is refused with close 1003
/// (MQTT §6: "MUST close the connection" on non-binary data). AMQP over WebSockets (subprotocol `AMQPWSB10`,
/// reference §11.1) carries its byte stream the same way, so the AMQP bridges sit behind this handler too.
public final class MQTTWebSocketFraming: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    public enum Role: Sendable { case client, server }

    private let role: Role
    private var closing = false

    public init(role: Role) { self.role = role }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            if role == .server && frame.maskKey == nil {
                // RFC 6455 §5.1: a server closes the connection on an unmasked client frame.
                return close(context: context, code: .protocolError)
            }
            let bytes = frame.unmaskedData
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
        case .ping:
            var pong = frame
            pong.opcode = .pong
            pong.data = frame.unmaskedData
            pong.maskKey = role == .client ? .random() : nil
            pong.extensionData = nil
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            frame.data = frame.unmaskedData
            context.fireErrorCaught(MQTTWebSocketClosed(code: frame.data.readInteger(as: UInt16.self)))
            close(context: context, code: .normalClosure)
        case .text:
            close(context: context, code: .unacceptableData)
        default:
            close(context: context, code: .protocolError)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closing else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let bytes = unwrapOutboundIn(data)
        let frame = WebSocketFrame(
            fin: true,
            opcode: .binary,
            maskKey: role == .client ? .random() : nil,
            data: bytes
        )
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// Sends a close frame with `code` (once), then closes the connection.
    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closing else { return }
        closing = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(
            fin: true,
            opcode: .connectionClose,
            maskKey: role == .client ? .random() : nil,
            data: data
        )
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension MQTTWebSocketFraming: Sendable {}

/// The peer ended the WebSocket with a close frame (its status code, when it sent one).
public struct MQTTWebSocketClosed: Error, Sendable {
    public var code: UInt16?
}

/// The WebSocket subprotocol MQTT uses (MQTT §6), and IoT Hub's.
public let mqttWebSocketSubprotocol = "mqtt"

/// The WebSocket subprotocol of AMQP over WebSockets (the C, Node and .NET SDKs', and IoT Hub's; reference §11.1).
public let amqpWebSocketSubprotocol = "AMQPWSB10"
