// libFuzzer target: the filter lexer/parser, resolver and evaluator.
// Properties: canonical text re-parses to the same tree; resolution and evaluation never crash.
import JSON
import SCIMCore

let user: JSONObject = {
    let text = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"b@example.com","type":"work","primary":true}],"meta":{"created":"2010-01-23T04:56:22Z"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}"#
    return (try! JSONDecoder.decode(text)).object!
}()
let schema = SchemaRegistry.standard.resourceSchema("User")!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFilter(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // The same text as a query string (filter, attributes, sortBy, paging) and as a projection list.
    _ = try? ListQuery(queryString: text, schema: schema, configuration: ServiceProviderConfiguration())
    _ = Projection(schema: schema, attributes: text, excludedAttributes: nil).apply(to: user)
    guard let filter = try? FilterParser.parse(text) else { return 0 }
    // Canonical text may be longer than the input (escapes), so it is re-parsed with a larger length limit.
    let roomy = FilterLimits(maxLength: 1 << 20)
    guard let again = try? FilterParser.parse(filter.description, limits: roomy) else { fatalError("canonical filter text does not parse") }
    if again != filter { fatalError("canonical filter text parses to a different tree") }
    if let resolved = try? schema.resolve(filter) { _ = resolved.matches(user) }
    _ = try? FilterParser.parsePatchPath(text)
    return 0
}
