// The fuzzing harness of the parsers of untrusted files (scripts/fuzz.sh, `make fuzz`).
//
// Built with `-sanitize=fuzzer,address` (scripts/fuzz.sh), libFuzzer's runtime is linked in and this program hands
// over to it: `DANCEGRPO_FUZZ_TARGET=png dancegrpo-fuzz [libFuzzer options] [corpus folders]`. SwiftPM makes this
// file the program's entry point (it renames `main`), so libFuzzer's own `main` never runs; its driver is found
// at run time instead, which also lets the normal build (no libFuzzer) link and replay inputs:
//   dancegrpo-fuzz TARGET FILE…         each file through the target, the outcome printed
//   dancegrpo-fuzz --write-seeds FOLDER the seed corpus, one subfolder per target
import Foundation
import Checkpoints
import FuzzTargets

typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
typealias RunDriver =
    @convention(c) (
        UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        TestOneInput
    ) -> CInt

if let symbol = dlsym(dlopen(nil, RTLD_NOW), "LLVMFuzzerRunDriver") {
    let driver = unsafeBitCast(symbol, to: RunDriver.self)
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(driver(&argc, &argv, { fuzzTestOneInput($0, $1) }))
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.count == 2, arguments[0] == "--write-seeds" {
    do {
        try SeedCorpus.write(to: URL(fileURLWithPath: arguments[1]))
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    print("usage: dancegrpo-fuzz (\(names)) FILE… | dancegrpo-fuzz --write-seeds FOLDER")
    exit(2)
}
for path in arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else {
        print("\(path): unreadable")
        exit(1)
    }
    let error = target.run([UInt8](data))
    print("\(path): " + (error.map { "refused: \("\($0)".escapedForTerminal)" } ?? "accepted"))
}
