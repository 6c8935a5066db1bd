// libFuzzer target: PATCH body parsing and application on a sample user and group (plus Bulk/Search/create bodies).
// Property: a successful PATCH yields a document that is again valid input for PUT.
import JSON
import SCIMCore

let registry = SchemaRegistry.standard
let userSchema = registry.resourceSchema("User")!
let groupSchema = registry.resourceSchema("Group")!
let user: JSONObject = {
    let text = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"1","userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"b@example.com","type":"work","primary":true},{"value":"h@example.org","type":"home"}],"addresses":[{"type":"work","locality":"Hollywood"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x","manager":{"value":"m"}}}"#
    return (try! JSONDecoder.decode(text)).object!
}()
let group: JSONObject = (try! JSONDecoder.decode(#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g","displayName":"G"}"#)).object!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    guard let body = try? JSONDecoder.decode(raw, options: .init(limits: JSONLimits(maxDepth: 16, maxTotalSize: 1 << 16))) else { return 0 }
    // The same bodies exercise the other JSON-body parsers: Bulk, SearchRequest and create/replace.
    if let bulk = try? BulkRequest.parse(body, maxOperations: 100) {
        for case .success(let op) in bulk.operations {
            let ids = Dictionary(op.references.map { ($0, "00000000-0000-4000-8000-000000000001") }, uniquingKeysWith: { a, _ in a })
            if let data = op.data, op.references.isEmpty, BulkRequest.substitute(data, ids) != data {
                fatalError("substitution changed data without references")
            }
            _ = BulkRequest.resolvePath(op.path, ids)
        }
    }
    _ = try? ListQuery(searchRequest: body, schema: userSchema, configuration: ServiceProviderConfiguration())
    _ = try? userSchema.normaliseForCreate(body)
    guard let request = try? PatchRequest.parse(body) else { return 0 }
    if let r = try? userSchema.applyPatch(request, to: user) {
        if (try? userSchema.normaliseForReplace(.object(r.document), existing: user)) == nil {
            fatalError("a patched user is not valid PUT input")
        }
        _ = Projection(schema: userSchema, attributes: "emails.value,name", excludedAttributes: nil).apply(to: r.document)
    }
    _ = try? groupSchema.applyPatch(request, to: group)
    return 0
}
