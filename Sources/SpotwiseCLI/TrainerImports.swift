import Foundation
import Spawning

/// The Python modules a job's trainer imports, checked before the demo starts anything: without
/// them every attempt fails at once, and the demo would end in a failed job after a minute of
/// placements instead of saying what to install.
enum TrainerImports {
    /// What is wrong with the trainer of `run` (run in `workdir`) before it starts: the modules it
    /// imports that `python` cannot import, said with what to do. Nil when everything imports, or
    /// when `run` is not `python SCRIPT.py` (there is nothing to check).
    static func problem(run: String, workdir: URL, python: String = "python3") -> String? {
        let modules = Self.modules(run: run, workdir: workdir)
        guard !modules.isEmpty else { return nil }
        let missing = Self.missing(modules, python: python)
        guard !missing.isEmpty else { return nil }
        return "the trainer (`\(run)`) imports Python modules that \(python) cannot import:\n"
            + missing.map { "  \($0)\n" }.joined()
            + "run ./setup.sh (it installs numpy and scikit-learn for the example trainers), then run the demo again"
    }

    /// The top-level modules that `run` imports when it is `python[3] [OPTIONS] SCRIPT.py ...`:
    /// read from the script and from the modules of its own directory it imports (followed, not
    /// listed), without running any of them. Empty for any other command.
    static func modules(run: String, workdir: URL) -> [String] {
        let words = run.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let interpreter = words.first.map({ URL(fileURLWithPath: $0).lastPathComponent }),
            interpreter == "python" || interpreter.hasPrefix("python3"),
            let script = words.dropFirst().first(where: { !$0.hasPrefix("-") }), script.hasSuffix(".py")
        else { return [] }
        let scriptURL = script.hasPrefix("/") ? URL(fileURLWithPath: script) : workdir.appendingPathComponent(script)
        let directory = scriptURL.deletingLastPathComponent()
        var found: [String] = []
        var followed: Set<String> = []
        var pending = [scriptURL]
        while let file = pending.popLast() {
            guard followed.insert(file.standardizedFileURL.path).inserted,
                let text = try? String(contentsOf: file, encoding: .utf8)
            else { continue }
            for name in importedNames(in: text) {
                if let local = localModule(name, near: directory) {
                    pending.append(local)
                } else if isBundledPackage(name, workdir: workdir) {
                    continue
                } else if !found.contains(name) {
                    found.append(name)
                }
            }
        }
        return found
    }

    /// The job's own module `name`: beside the script, or in a sibling directory of the script's
    /// (a trainer may put `../digits` on `sys.path` at run time, as jobs/digits-ddp does).
    static func localModule(_ name: String, near directory: URL) -> URL? {
        let files = FileManager.default
        let beside = directory.appendingPathComponent("\(name).py")
        if files.fileExists(atPath: beside.path) { return beside }
        let parent = directory.deletingLastPathComponent()
        let siblings = (try? files.contentsOfDirectory(atPath: parent.path))?.sorted() ?? []
        return siblings.lazy.map { parent.appendingPathComponent($0).appendingPathComponent("\(name).py") }
            .first { files.fileExists(atPath: $0.path) }
    }

    /// A package of the checkout the job runs in, at `python/NAME/` of its workdir: the bundled
    /// trainers put that directory on `sys.path` themselves, so the `spotwise` trainer library
    /// (python/spotwise) imports without `pip install ./python`.
    static func isBundledPackage(_ name: String, workdir: URL) -> Bool {
        let initFile = workdir.appendingPathComponent("python").appendingPathComponent(name)
            .appendingPathComponent("__init__.py")
        return FileManager.default.fileExists(atPath: initFile.path)
    }

    /// The top-level names of `import a.b, c as d` and `from a.b import x` lines (relative
    /// imports and `__future__` left out).
    static func importedNames(in source: String) -> [String] {
        var names: [String] = []
        for rawLine in source.split(separator: "\n") {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            var candidates: [Substring] = []
            if line.hasPrefix("import ") {
                let list = line.dropFirst("import ".count).prefix { $0 != "#" && $0 != ";" }
                candidates = list.split(separator: ",").compactMap {
                    $0.split(whereSeparator: \.isWhitespace).first
                }
            } else if line.hasPrefix("from ") {
                let words = line.split(whereSeparator: \.isWhitespace)
                if words.count >= 3, words[2] == "import" { candidates = [words[1]] }
            }
            for candidate in candidates {
                guard let top = candidate.split(separator: ".", omittingEmptySubsequences: false).first,
                    let first = top.first, first == "_" || first.isLetter,
                    top.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }), top != "__future__"
                else { continue }
                if !names.contains(String(top)) { names.append(String(top)) }
            }
        }
        return names
    }

    /// The modules of `names` that `python` cannot import, each with Python's own error; one
    /// entry naming `python` when it does not run at all.
    ///
    /// Run as a `ChildProcess` (a clean signal mask, as every process the project starts), whose
    /// stdout and stderr are one stream: the answer lines carry a prefix, so what an imported
    /// module writes to stderr (a deprecation warning) is not taken for a missing module.
    static func missing(_ names: [String], python: String = "python3") -> [String] {
        let prefix = "spotwise-missing-module: "
        let check = """
            import importlib, sys
            for name in sys.argv[1:]:
                try:
                    importlib.import_module(name)
                except BaseException as error:
                    print("\(prefix)%s (%s: %s)" % (name, type(error).__name__, str(error).splitlines()[0] if str(error) else ""))
            """
        let process: ChildProcess
        do {
            process = try ChildProcess(
                executable: "/usr/bin/env", arguments: [python, "-c", check] + names,
                environment: ProcessInfo.processInfo.environment)
        } catch {
            return ["\(python) (it does not start: \(error))"]
        }
        let lines = process.waitUntilEndOfOutput()
        // env exits 127 when it cannot find the interpreter.
        let status = process.waitUntilExit()
        guard status == 0 else {
            return ["\(python) (it exited with status \(status); is it installed and on PATH?)"]
        }
        return lines.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }
}
