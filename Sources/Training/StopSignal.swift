import Foundation
import Synchronization

/// The signal the process-wide handler caught (0: none yet). A plain `sigaction` handler rather
/// than a DispatchSource: on Linux, libdispatch reads signals through a signalfd, and a signal
/// that lands on a thread it does not own (OpenBLAS's, the test runner's) can stay pending
/// there unseen. Setting an atomic from the handler works whichever thread takes it.
private let caughtSignal = Atomic<Int32>(0)

/// The notice printed on the first signal; built before any handler is installed, because a
/// handler may only call async-signal-safe functions such as `write`.
nonisolated(unsafe) private var stopNotice: UnsafeMutableBufferPointer<UInt8>?

private func handleStopSignal(_ signal: Int32) {
    let (exchanged, _) = caughtSignal.compareExchange(expected: 0, desired: signal, ordering: .acquiringAndReleasing)
    guard exchanged else {
        // Second signal: the user does not want to wait for the checkpoint.
        _exit(128 + signal)
    }
    if let notice = stopNotice, let base = notice.baseAddress {
        _ = write(STDERR_FILENO, base, notice.count)
    }
}

/// Turns SIGINT, SIGTERM and SIGHUP (a closed terminal) into a flag the training loop checks between steps, so that it can
/// save a checkpoint and exit cleanly. A second signal exits at once.
public final class StopSignal: Sendable {
    private let requested = Atomic<Int32>(0)
    private let installed = Atomic<Bool>(false)

    public init() {}

    /// True once a stop was requested by a signal (while installed) or `request(_:)`.
    public var isRequested: Bool { signalNumber != 0 }

    /// The signal that asked to stop (or the value given to `request`), 0 if none.
    public var signalNumber: Int32 {
        let own = requested.load(ordering: .acquiring)
        if own != 0 { return own }
        return installed.load(ordering: .acquiring) ? caughtSignal.load(ordering: .acquiring) : 0
    }

    /// Asks the loop to stop, as a signal would (tests use this directly).
    public func request(_ signal: Int32 = SIGINT) {
        _ = requested.compareExchange(expected: 0, desired: signal, ordering: .acquiringAndReleasing)
    }

    /// Installs the SIGINT, SIGTERM and SIGHUP handlers; `notice` is printed to stderr on the first one.
    public func install(notice: String = "\nstopping after this step and saving a checkpoint (send the signal again to quit without saving)\n") {
        if stopNotice == nil {
            let bytes = Array(notice.utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
            _ = buffer.initialize(from: bytes)
            stopNotice = buffer
        }
        caughtSignal.store(0, ordering: .releasing)
        installed.store(true, ordering: .releasing)
        // A process started from a thread that blocks these signals (libdispatch workers block
        // nearly all) inherits the block; unblock them here so this thread can take them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        sigaddset(&unblock, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handleStopSignal
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
    }

    /// Restores the default signal actions.
    public func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        signal(SIGHUP, SIG_DFL)
        installed.store(false, ordering: .releasing)
    }
}
