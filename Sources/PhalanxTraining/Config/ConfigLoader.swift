// Reads an experiment config: YAML → (overrides) → Codable types, strictly.
//
// Unknown keys are found by comparing the user's YAML tree with the decoded config
// encoded back: every key the user wrote must survive the round trip. Errors name the
// file, the line and the dotted key (`train.optimizer.lr`).
import Foundation
import Yams

/// A config problem a user can fix, with where it is.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// 1-based line of the offending key or value, when known.
    public var line: Int?
    /// Dotted path of the key (`model.layers.2.kernel`); empty for the whole file.
    public var key: String
    public var message: String

    public init(file: String, line: Int? = nil, key: String, _ message: String) {
        self.file = file; self.line = line; self.key = key; self.message = message
    }

    public var description: String {
        let place = file + (line.map { ":\($0)" } ?? "")
        return key.isEmpty ? "\(place): \(message)" : "\(place): key '\(key)': \(message)"
    }
}

/// A decoded config together with its YAML tree, so later checks can name lines.
public struct LoadedConfig {
    public var config: ExperimentConfig
    public var file: String
    let root: Node
    /// The `--set key=value` overrides applied, so that errors about their keys name them.
    var overrides: [String] = []
    /// The YAML tree as written, with `--set` overrides applied.
    public var tree: Node { root }

    /// The line of the key or value at a dotted path, if the user wrote it.
    public func line(of key: String) -> Int? {
        ConfigLoader.node(at: key.split(separator: ".").map(String.init), in: root)?.mark?.line
    }

    /// The subtree at dotted `key` decoded as `T` (a task's own section, such as `data`);
    /// errors name the key and line. Nil when the config has no such key.
    public func section<T: Decodable>(_ key: String, as type: T.Type) throws(ConfigError) -> T? {
        let path = key.split(separator: ".").map(String.init)
        guard let node = ConfigLoader.node(at: path, in: root) else { return nil }
        do {
            return try YAMLDecoder().decode(T.self, from: node)
        } catch let e as DecodingError {
            var located = ConfigLoader.describe(e, root: node, file: file)
            located.key = located.key.isEmpty ? key : key + "." + located.key
            located.line = located.line ?? line(of: key)
            throw located
        } catch {
            throw ConfigError(file: file, line: line(of: key), key: key, "\(error)")
        }
    }

    /// An error about `key`, located in the file (or in the `--set` that gave its value).
    public func error(_ key: String, _ message: String) -> ConfigError {
        ConfigLoader.attribute(ConfigError(file: file, line: line(of: key), key: key, message), to: overrides)
    }

    /// A config derived from this one (an ensemble member, a sweep trial): each of
    /// `copying` puts the subtree at one dotted key in place of another
    /// (`ensemble.models.1` → `model`), then `overrides` apply as `--set` would, then the
    /// top-level keys in `removing` go. Lines in errors still point into this file.
    public func derived(copying: [(from: String, to: String)] = [], overrides: [String] = [],
                        removing: [String] = []) throws(ConfigError) -> LoadedConfig {
        var tree = root
        for (from, to) in copying {
            guard let node = ConfigLoader.node(at: from.split(separator: ".").map(String.init), in: tree) else {
                throw ConfigError(file: file, key: from, "not found")
            }
            tree = try ConfigLoader.set(node, at: to.split(separator: ".").map(String.init)[...], in: tree,
                                        full: to.split(separator: ".").map(String.init))
        }
        for o in overrides { tree = try ConfigLoader.apply(override: o, to: tree, file: file) }
        if case .mapping(var m) = tree {
            for key in removing { m[key] = nil }
            tree = .mapping(m)
        }
        return try ConfigLoader.decode(tree, file: file)
    }
}

/// Loads configs from files or strings.
public enum ConfigLoader {
    /// Reads `path`, applies `--set key=value` overrides and decodes strictly.
    public static func load(path: String, overrides: [String] = []) throws(ConfigError) -> LoadedConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", "cannot read the file (missing, unreadable or not UTF-8)")
        }
        return try load(yaml: text, file: path, overrides: overrides)
    }

    /// Decodes YAML text; `file` is used in messages.
    public static func load(yaml: String, file: String = "<config>", overrides: [String] = []) throws(ConfigError) -> LoadedConfig {
        var root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigError(file: file, key: "", "the file is empty")
            }
            root = node
        } catch let e as ConfigError {
            throw e
        } catch {
            throw yamlError(error, text: yaml, file: file)
        }
        for o in overrides { root = try apply(override: o, to: root, file: file) }
        do {
            var loaded = try decode(root, file: file)
            loaded.overrides = overrides
            return loaded
        } catch {
            throw attribute(error, to: overrides)
        }
    }

    /// An error about a key a `--set` gave (or one below it) names the `--set`, not a line of the file.
    static func attribute(_ e: ConfigError, to overrides: [String]) -> ConfigError {
        guard let o = overrides.last(where: { o in
            let key = String(o.prefix { $0 != "=" })
            return e.key == key || e.key.hasPrefix(key + ".")
        }) else { return e }
        return ConfigError(file: "--set \(o)", key: e.key, e.message)
    }

    /// A YAML syntax error as one line with its place (Yams appends the whole document as context).
    static func yamlError(_ error: Error, text: String, file: String) -> ConfigError {
        var message = "\(error)"
        if let cut = message.range(of: "\nContext:") { message = String(message[..<cut.lowerBound]) }
        message = message.split(separator: "\n").first.map(String.init) ?? message
        var line = yamlLine(error)
        // "duplicated key(s): 'name'": the line where the key appears a second time.
        if let r = message.range(of: "duplicated key(s): '"), let end = message[r.upperBound...].firstIndex(of: "'") {
            let key = message[r.upperBound..<end]
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let hits = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("\(key):") }
            if hits.count > 1 { line = hits[1] + 1 }
        }
        return ConfigError(file: file, line: line, key: "", "not valid YAML: \(message)")
    }

    /// Decodes a YAML tree strictly (unknown keys are errors).
    static func decode(_ root: Node, file: String) throws(ConfigError) -> LoadedConfig {
        let config: ExperimentConfig
        do {
            config = try YAMLDecoder().decode(ExperimentConfig.self, from: root)
        } catch let e as DecodingError {
            throw describe(e, root: root, file: file)
        } catch {
            throw ConfigError(file: file, key: "", "\(error)")
        }
        try rejectUnknownKeys(root, decoded: config, file: file)
        let loaded = LoadedConfig(config: config, file: file, root: root)
        // `data` belongs to the task, which names the keys it reads; here only keys no task
        // reads are refused (`TaskRegistry.kind(of:)` refuses another task's keys).
        try TaskRegistry.checkKnownKeys(loaded)
        return loaded
    }

    // MARK: Unknown keys

    private static func rejectUnknownKeys(_ root: Node, decoded: ExperimentConfig, file: String) throws(ConfigError) {
        let encoder = JSONEncoder()
        guard let data = try? encoder.encode(decoded),
              let known = try? JSONSerialization.jsonObject(with: data) else { return }
        try walk(root, known: known, path: [], file: file)
    }

    private static func walk(_ node: Node, known: Any, path: [String], file: String) throws(ConfigError) {
        switch node {
        case .mapping(let mapping):
            guard let dict = known as? [String: Any] else { return }
            for (k, v) in mapping {
                let key = k.string ?? "\(k)"
                if path.isEmpty && key == "data" { continue }  // the task's section: TaskRegistry.checkSections
                guard let sub = dict[key] else {
                    // `key: null` (`--set init_from=null`) unsets an optional section.
                    if v.tag == Tag(.null) { continue }
                    let dotted = (path + [key]).joined(separator: ".")
                    throw ConfigError(file: file, line: k.mark?.line, key: dotted, "unknown key")
                }
                try walk(v, known: sub, path: path + [key], file: file)
            }
        case .sequence(let seq):
            guard let array = known as? [Any] else { return }
            for (i, v) in seq.enumerated() where i < array.count {
                try walk(v, known: array[i], path: path + [String(i)], file: file)
            }
        default:
            return
        }
    }

    // MARK: Decoding errors

    static func describe(_ error: DecodingError, root: Node, file: String) -> ConfigError {
        func located(_ path: [CodingKey], _ message: String) -> ConfigError {
            let keys = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return ConfigError(file: file, line: node(at: keys, in: root)?.mark?.line,
                               key: keys.joined(separator: "."), message)
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return located(ctx.codingPath, "expected \(readable(type)); \(ctx.debugDescription)")
        case .valueNotFound(let type, let ctx):
            return located(ctx.codingPath, "expected \(readable(type)), found nothing")
        case .keyNotFound(let key, let ctx):
            let parent = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            var e = located(ctx.codingPath, "missing required key '\(key.stringValue)'")
            e.key = (parent + [key.stringValue]).joined(separator: ".")
            return e
        case .dataCorrupted(let ctx):
            return located(ctx.codingPath, ctx.debugDescription)
        @unknown default:
            return ConfigError(file: file, key: "", "\(error)")
        }
    }

    private static func readable(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            return name.contains("Node.Mapping") || name.contains("Dictionary") ? "a mapping" : name
        }
    }

    private static func yamlLine(_ error: Error) -> Int? {
        let text = "\(error)"
        // Yams reports "<file>:LINE:COLUMN: ..." for scanner and parser errors.
        let parts = text.split(separator: ":")
        for p in parts { if let n = Int(p.trimmingCharacters(in: .whitespaces)) { return n } }
        return nil
    }

    // MARK: Tree access

    static func node(at keys: [String], in root: Node) -> Node? {
        var current: Node? = root
        for k in keys {
            guard let n = current else { return nil }
            switch n {
            case .mapping(let m): current = m[k]
            case .sequence(let s):
                guard let i = Int(k), i >= 0, i < s.count else { return nil }
                current = s[i]
            default: return nil
            }
        }
        return current
    }

    /// Applies `a.b.c=value` (value parsed as YAML) to the tree, creating mappings.
    static func apply(override: String, to root: Node, file: String) throws(ConfigError) -> Node {
        guard let eq = override.firstIndex(of: "=") else {
            throw ConfigError(file: "--set", key: override, "expected key=value")
        }
        let keys = override[..<eq].split(separator: ".").map(String.init)
        let text = String(override[override.index(after: eq)...])
        guard !keys.isEmpty else { throw ConfigError(file: "--set", key: override, "empty key") }
        let value: Node
        do {
            value = try Yams.compose(yaml: text) ?? Node("")
        } catch {
            throw ConfigError(file: "--set", key: keys.joined(separator: "."), "value '\(text)' is not valid YAML")
        }
        return try set(value, at: keys[...], in: root, full: keys)
    }

    static func set(_ value: Node, at keys: ArraySlice<String>, in node: Node, full: [String]) throws(ConfigError) -> Node {
        guard let k = keys.first else { return value }
        switch node {
        case .mapping(var m):
            let child = m[k] ?? Node([(Node, Node)]())
            m[k] = try set(value, at: keys.dropFirst(), in: child, full: full)
            return .mapping(m)
        case .sequence(var s):
            guard let i = Int(k), i >= 0, i < s.count else {
                throw ConfigError(file: "--set", key: full.joined(separator: "."), "'\(k)' is not an index of a list of \(s.count)")
            }
            s[i] = try set(value, at: keys.dropFirst(), in: s[i], full: full)
            return .sequence(s)
        default:
            if keys.count >= 1, case .scalar = node {
                throw ConfigError(file: "--set", key: full.joined(separator: "."), "'\(k)' goes below a plain value")
            }
            return node
        }
    }
}
