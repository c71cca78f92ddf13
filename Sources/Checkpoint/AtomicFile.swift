import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure injected by tests once `afterBytes` bytes of a file are written.
struct WriteFault: Sendable {
    enum Kind: Sendable { case diskFull, killProcess }
    var kind: Kind
    var afterBytes: Int
}

/// Crash-safe file replacement: write `NAME.tmp-PID`, fsync it, rename over `NAME`, fsync the
/// directory. Readers see either the old complete file or the new complete file, never a part.
enum AtomicFile {
    static let temporaryMarker = ".tmp-"

    /// `fault` injects a failure part-way through (tests only).
    static func write(_ pieces: [[UInt8]], to url: URL, fault: WriteFault? = nil) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(url.lastPathComponent + temporaryMarker + String(getpid()))
        func failure(_ what: String, _ code: Int32) -> CheckpointError {
            .io(file: url.path, reason: "\(what) failed: \(String(cString: strerror(code))); the previous file is unchanged")
        }
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("creating \(temporary.lastPathComponent)", errno) }
        do {
            var written = 0
            for piece in pieces {
                try piece.withUnsafeBytes { bytes in
                    var position = 0
                    while position < bytes.count {
                        var count = bytes.count - position
                        if let fault {
                            count = min(count, fault.afterBytes - written)
                            if count <= 0 {
                                if fault.kind == .killProcess { raise(SIGKILL) }
                                throw failure("writing", ENOSPC)
                            }
                        }
                        let result = Glibc.write(descriptor, bytes.baseAddress! + position, count)
                        if result < 0 {
                            if errno == EINTR { continue }
                            throw failure("writing", errno)
                        }
                        position += result
                        written += result
                    }
                }
            }
            guard fsync(descriptor) == 0 else { throw failure("fsync", errno) }
            guard close(descriptor) == 0 else {
                unlink(temporary.path)
                throw failure("close", errno)
            }
        } catch {
            close(descriptor)
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw failure("renaming into place", code)
        }
        try syncDirectory(of: url)
    }

    static func write(text: String, to url: URL) throws {
        try write([Array(text.utf8)], to: url)
    }

    /// Makes the rename itself durable.
    static func syncDirectory(of url: URL) throws {
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else {
            throw CheckpointError.io(file: url.path, reason: "cannot open the directory to fsync it: \(String(cString: strerror(errno)))")
        }
        defer { close(directory) }
        guard fsync(directory) == 0 else {
            throw CheckpointError.io(file: url.path, reason: "fsync of the directory failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Temporary files left behind by writers that no longer run (a crash or kill -9).
    static func removeAbandonedTemporaries(in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names {
            guard let marker = name.range(of: temporaryMarker, options: .backwards),
                  let pid = Int32(name[marker.upperBound...]) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(directory.appendingPathComponent(name).path)
            }
        }
    }
}
