// What /proc/cpuinfo says of this machine's CPU (the first processor's entry), read once.
import Foundation

public enum CPUInfo {
    private static let lines: [Substring] = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return info.split(separator: "\n")
    }()

    /// The `model name` field, or nil where there is none.
    public static let modelName: String? = lines.first { $0.hasPrefix("model name") }
        .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }

    /// The whole `flags` line ("" where there is none).
    public static let flagsLine: String = lines.first { $0.hasPrefix("flags") }.map(String.init) ?? ""

    /// The instruction-set flags (`avx2`, `avx512f`, …).
    public static let flags: Set<String> = Set(flagsLine.split(separator: " ").map(String.init))
}
