import FleetFuzz
import Foundation

// One binary for every harness; `FLEETSTORM_FUZZ_TARGET` names the one to run (scripts/fuzz.sh sets it).
//
// Built with `-D FUZZING -sanitize=fuzzer` (scripts/fuzz.sh) this is a libFuzzer target. Built plainly it replays
// files: `swift run fleetstorm-fuzz report crash-1234 ...` runs each file through the harness and says what broke.

/// The harness named by the environment; a wrong name ends the process with the list of names.
func chosenTarget() -> FuzzTarget {
    let name = ProcessInfo.processInfo.environment["FLEETSTORM_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("error: FLEETSTORM_FUZZ_TARGET=\(name): expected one of \(names)\n".utf8))
        exit(2)
    }
    return target
}

#if FUZZING
// SwiftPM links an executable through its module's entry point, so ours starts libFuzzer's driver; libFuzzer's own
// main (in its runtime archive) is linked too and names the harness entry point below.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

nonisolated(unsafe) var target = FuzzTarget.report

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let problem = target.run(bytes) { fatalError("\(target.rawValue): \(problem)") }
    return 0
}

@main
enum Fuzz {
    static func main() {
        target = chosenTarget()
        var argc = CommandLine.argc
        var argv = Optional(CommandLine.unsafeArgv)
        exit(runDriver(&argc, &argv, fuzzOne))
    }
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: fleetstorm-fuzz \(names) FILE...   (replays inputs through one fuzz harness)")
            print("example: fleetstorm-fuzz report Fuzz/Corpus/report/quickstart.pb")
            exit(2)
        }
        var failed = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("error: \(path): cannot read the file")
                failed += 1
                continue
            }
            if let problem = target.run(Array(data)) {
                print("\(path): \(problem)")
                failed += 1
            }
        }
        print("\(arguments.count - 1 - failed) passed, \(failed) failed")
        exit(failed == 0 ? 0 : 1)
    }
}
#endif
