import SCIMCore
import RegionSCIM

/// What the responder learns about one SCIM request while answering it, for its request log record: who it was for
/// (`scope`, set once authenticated; nil: nothing is recorded), which resource, and how it ended.
struct RequestTrace {
    var scope: RequestScope?
    var kind: ResourceKind?
    var resourceID: String?
    var outcome: SCIMOutcome?
    var error: SCIMError?
}
