import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into a flag the training loop checks between steps, so that it
/// can save a checkpoint and exit cleanly. A second signal while stopping exits at once.
public final class StopSignal: @unchecked Sendable {
    private let requested = Atomic<Int32>(0)
    // Guarded by `lock`; only touched by install/uninstall.
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()

    public init() {}

    /// True once a stop was requested by a signal or `request(_:)`.
    public var isRequested: Bool { requested.load(ordering: .acquiring) != 0 }

    /// The signal number that asked to stop (or the value given to `request`), 0 if none.
    public var signalNumber: Int32 { requested.load(ordering: .acquiring) }

    /// Asks the loop to stop, as a signal would (tests use this directly).
    public func request(_ signal: Int32 = SIGINT) {
        _ = requested.compareExchange(expected: 0, desired: signal, ordering: .acquiringAndReleasing)
    }

    /// Installs handlers for SIGINT and SIGTERM. `onFirst` runs on a background queue when the
    /// first one arrives (e.g. to print "stopping…").
    public func install(onFirst: (@Sendable (Int32) -> Void)? = nil) {
        var installed: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            // The default action would kill the process before the handler runs.
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global(qos: .userInitiated))
            source.setEventHandler { [self] in
                if isRequested {
                    // Second signal: the user does not want to wait for the checkpoint.
                    FileHandle.standardError.write(Data("\nsecond signal: exiting without saving\n".utf8))
                    exit(130)
                }
                request(sig)
                onFirst?(sig)
            }
            source.resume()
            installed.append(source)
        }
        lock.withLock { sources = installed }
    }

    /// Removes the handlers and restores the default signal actions.
    public func uninstall() {
        lock.withLock {
            for s in sources { s.cancel() }
            sources.removeAll()
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
