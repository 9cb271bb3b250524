import ArgumentParser
import Foundation
import Glassbox

struct TourCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tour",
        abstract: "Regenerate the guided tour (docs/tour.md) from docs/tour/NN-*.md, running every glassbox-run block.",
        discussion: """
        Each ```glassbox-run block holds `glassbox …` command lines; they are run with this binary \
        in the repository root and replaced by a ```text block with the command and its output. \
        `glassbox reproduce` and `glassbox check` are rejected (the tour follows `make reproduce`; \
        show a target's numbers with `glassbox results SLUG`). Image links must name existing files. The format is described in docs/tour/README.md. \
        Exit status: 0 written, 1 a command failed or an image is missing, 2 could not run.
        """
    )

    @Option(help: ArgumentHelp("The folder of tour sections (default: <root>/docs/tour).", valueName: "dir"))
    var sections: String?

    @Option(help: ArgumentHelp("The file to write (default: <root>/docs/tour.md).", valueName: "file"))
    var output: String?

    @OptionGroup var repository: RepositoryOptions

    func run() throws {
        let root = repository.rootURL
        func resolve(_ path: String?) -> URL? {
            path.map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent($0) }
        }
        var generator = TourGenerator(root: root, sectionsDirectory: resolve(sections), output: resolve(output),
                                      runner: Self.runSelf)
        generator.onCommand = { file, command in Console.error("tour: \(file): \(command)") }
        do {
            let summary = try generator.write()
            func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
            print("wrote \(generator.displayPath(generator.output)): \(count(summary.sections.count, "section")), \(count(summary.commands, "command")) run, \(count(summary.images, "image")) checked")
        } catch let error as TourError {
            switch error {
            case .io: throw cannotRun(error.description)
            default:
                Console.error(error.description)
                throw ExitCode(1)
            }
        }
    }

    /// Runs this executable with `arguments` in `directory`, capturing its output through
    /// temporary files (no pipe can fill up and block the child).
    static func runSelf(_ arguments: [String], _ directory: URL) throws -> TourGenerator.CommandOutput {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let binary = FileManager.default.isExecutableFile(atPath: executable.path)
            ? executable : (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0]))
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-tour-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        let outURL = temp.appendingPathComponent("stdout"), errURL = temp.appendingPathComponent("stderr")
        // A file that cannot be created makes FileHandle(forWritingTo:) below throw, naming it.
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        return TourGenerator.CommandOutput(
            status: process.terminationStatus,
            standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
