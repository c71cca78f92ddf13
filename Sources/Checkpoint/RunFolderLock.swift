import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `DIR/.lock` for as long as a run writes into DIR: a second run on the same
/// folder is refused instead of interleaving its checkpoints with the first's. The kernel drops the
/// lock when the process ends, however it ends, so a killed run never leaves the folder locked.
public final class RunFolderLock {
    public static let fileName = ".lock"
    private let descriptor: Int32

    public init(directory: URL) throws {
        let url = directory.appendingPathComponent(Self.fileName)
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CheckpointError.io(file: url.path, reason: "cannot create the run lock (\(String(cString: strerror(errno))))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw CheckpointError.io(
                file: directory.path,
                reason: "another run (pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")) is writing to this folder; "
                    + "wait for it to finish or choose another --output-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
