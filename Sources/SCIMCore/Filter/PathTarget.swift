import JSON

/// The result of resolving a path that may also name a whole extension object.
enum PathTarget {
    case attribute(ResolvedPath)
    case extensionObject(Schema)
}
