/// AMQP error conditions as IoT Hub and its SDKs use them, next to the IoT Hub error codes (reference §3.3) the rest
/// of FleetStorm classifies: a device maps a condition the hub sends to the code its SDK would report, and the hub
/// answers a refusal with the condition IoT Hub sends for that code. One table, both directions.
public enum AMQPConditions {
    public static let unauthorizedAccess = "amqp:unauthorized-access"
    public static let deviceContainerThrottled = "com.microsoft:device-container-throttled"
    public static let resourceLimitExceeded = "amqp:resource-limit-exceeded"
    public static let notFound = "amqp:not-found"
    public static let messageSizeExceeded = "amqp:link:message-size-exceeded"
    public static let internalError = "amqp:internal-error"
    public static let connectionForced = "amqp:connection:forced"
    public static let detachForced = "amqp:link:detach-forced"
    public static let decodeError = "amqp:decode-error"
    public static let framingError = "amqp:connection:framing-error"
    public static let notAllowed = "amqp:not-allowed"
    public static let timeout = "com.microsoft:timeout"

    /// The IoT Hub error code a device's SDK reports for `condition` (the .NET SDK's exception table and Node's
    /// `translateError`): unauthorized → 401003 (unrecoverable, bad credential), throttled → 429001, resource limit
    /// → 403002 (quota), not found → 404001, message size → 413001, internal error → 500001; conditions the SDKs
    /// retry (forced, detach-forced, stolen, redirect, window and handle errors, timeouts) → 503001; anything else
    /// is a request the hub will not serve → 400000 (not retried).
    public static func serviceCode(for condition: String) -> Int {
        switch condition {
        case unauthorizedAccess: HubServiceError.unauthorized
        case deviceContainerThrottled: HubServiceError.throttled
        case resourceLimitExceeded: HubServiceError.quotaExceeded
        case notFound: HubServiceError.deviceNotFound
        case messageSizeExceeded: HubServiceError.messageTooLarge
        case internalError: HubServiceError.serverError
        case connectionForced, detachForced, framingError, timeout, "amqp:connection:redirect", "amqp:link:redirect",
            "amqp:link:stolen", "amqp:link:transfer-limit-exceeded", "amqp:resource-locked",
            "amqp:session:errant-link", "amqp:session:handle-in-use", "amqp:session:unattached-handle",
            "amqp:session:window-violation":
            HubServiceError.serviceUnavailable
        default: HubServiceError.badRequest
        }
    }

    /// The condition the hub answers an IoT Hub error `code` with (the inverse of `serviceCode` on the codes the hub
    /// sends).
    public static func condition(forServiceCode code: Int) -> String {
        switch code {
        case HubServiceError.unauthorized: unauthorizedAccess
        case HubServiceError.throttled: deviceContainerThrottled
        case HubServiceError.quotaExceeded: resourceLimitExceeded
        case HubServiceError.deviceNotFound: notFound
        case HubServiceError.messageTooLarge: messageSizeExceeded
        case HubServiceError.serverError: internalError
        case HubServiceError.serviceUnavailable: connectionForced
        default: notAllowed
        }
    }
}
