import Foundation
import Testing
@testable import Reporting

/// Renders report.html in headless Chromium (Debian package `chromium`, installed by `make deps`) and checks the
/// screenshot: not blank, and every run's colour drawn; and the rendered DOM names every run.
@Suite(.serialized) struct ChromiumRenderTests {
    static let chromium: URL? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .map(URL.init(fileURLWithPath:)).first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// Runs Chromium headless with `arguments` + the page; returns stdout. Fails after `timeout` seconds.
    static func chromium(_ arguments: [String], page: URL, timeout: Double = 90) throws -> String {
        let process = Process()
        process.executableURL = try #require(chromium)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("mlm-adapt-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        process.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
                             "--user-data-dir=\(profile.path)"] + arguments + [page.absoluteString]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read concurrently so a large DOM cannot fill the pipe and block Chromium.
        let collected = Written()
        let reader = Thread { collected.append(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            process.terminate()
            Issue.record("chromium did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        return collected.text
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (apt-get install chromium; make deps does it)"))
    func reportRendersNonBlankAndNamesEveryRun() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let names = ["legal-token-masking", "legal-whole-word-masking", "classify-legal-category"]
        let runs = [
            try RunHistory.load(try scratch.adaptRun(names[0], rate: 0.04)),
            try RunHistory.load(try scratch.adaptRun(names[1], rate: 0.09)),
            try RunHistory.load(try scratch.classifyRun(names[2])),
        ]
        let page = scratch.root.appendingPathComponent("report.html")
        try Data(HTMLReport.page(runs: runs).utf8).write(to: page)

        let screenshot = scratch.root.appendingPathComponent("report.png")
        _ = try Self.chromium(["--screenshot=\(screenshot.path)", "--window-size=1200,1500"], page: page)
        let image = try PNGImage(contentsOf: screenshot)
        #expect(image.width == 1200 && image.height == 1500)
        #expect(image.greyVariance > 100, "the screenshot is (nearly) blank: grey variance \(image.greyVariance)")
        for (index, name) in names.enumerated() {
            let drawn = image.count(near: SVGChart.colour(index), tolerance: 30)
            #expect(drawn > 200, "run \(name): only \(drawn) pixels in its colour \(SVGChart.colour(index))")
        }
        if let keep = ProcessInfo.processInfo.environment["MLM_ADAPT_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: screenshot, to: URL(fileURLWithPath: keep))
        }

        let dom = try Self.chromium(["--dump-dom"], page: page)
        #expect(dom.contains("<svg"), "the rendered DOM has no SVG")
        for name in names {
            #expect(dom.components(separatedBy: name).count - 1 >= 2, "the rendered page does not name \(name) in legend and table")
        }
        #expect(dom.contains("whole-word masking") && dom.contains("token masking"))
    }
}
