/// Status codes shared with include/lstmkit.h (LSTMKIT_E_*). Only ever appended.
public enum Status: Int32, Sendable {
    case ok = 0
    case invalidArgument = -1
    case badConfig = -2
    case wrongState = -3
    case io = -4
    case format = -5
    case noMemory = -6
    case bufferTooSmall = -7
    case cancelled = -8
    case numeric = -9
    case unsupported = -10
    case `internal` = -99
}

/// The one error type the engine throws; the C layer turns it into a status and a message.
public struct LSTMKitError: Error, CustomStringConvertible, Sendable {
    public let status: Status
    public let message: String
    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { message }
}

@inline(__always)
func require(_ condition: Bool, _ status: Status = .invalidArgument, _ message: @autoclosure () -> String) throws {
    if !condition { throw LSTMKitError(status, message()) }
}

@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw LSTMKitError(.invalidArgument, message()) }
}
