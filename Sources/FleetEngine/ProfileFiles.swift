public import FleetCore
import Foundation

extension ScenarioLoader {
    /// A loader that reads profiles, fault files and the registries they name from the file system (the edge:
    /// FleetCore itself reads no files).
    public static var files: ScenarioLoader { ScenarioLoader(readFile: ProfileFiles.read) }
}

/// Reading the files a profile or the hub names, as UTF-8 text (nil: missing or unreadable).
public enum ProfileFiles {
    public static let read: @Sendable (String) -> String? = { path in try? String(contentsOfFile: path, encoding: .utf8)
    }
}
