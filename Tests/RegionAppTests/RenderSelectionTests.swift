import JSON
import Postgres
@testable import RegionSCIM
import SCIMCore
import Testing

/// The renderer's projection prefilter (`RenderPlan.Selection`) only skips what `Projection.apply` would drop: for
/// every projection below, rendering with it and then applying the projection gives byte for byte what rendering
/// everything and then applying gives (the old path), for a user with core, multi-valued, enterprise, custom-extension,
/// `groups` and left-over (removed-schema) attributes, and for a group with members.
@Suite struct RenderSelectionTests {
    static let custom = "urn:example:params:scim:schemas:extension:render:2.0:User"
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    static let projections: [String?] = [
        nil, "attributes=userName", "attributes=id", "attributes=meta", "attributes=meta.lastModified",
        "attributes=emails.value", "attributes=emails,name.givenName", "attributes=groups", "attributes=groups.display",
        "attributes=\(enterprise)", "attributes=\(enterprise):employeeNumber", "attributes=\(enterprise):manager.value",
        "attributes=\(custom):level", "attributes=\(custom)", "attributes=userName,\(custom):department",
        "attributes=members", "attributes=displayName,members.value",
        "excludedAttributes=meta", "excludedAttributes=groups", "excludedAttributes=emails,phoneNumbers",
        "excludedAttributes=\(enterprise)", "excludedAttributes=\(custom):level", "excludedAttributes=name.familyName",
        "excludedAttributes=members", "attributes=USERNAME,Meta.Version", "attributes=nosuchattribute",
    ]

    func context() throws -> TenantContext {
        let extensions = try JSONDecoder.decode(#"""
            [{"resourceType":"User","schema":{"id":"\#(Self.custom)","name":"Render","attributes":[
              {"name":"department","type":"string"},{"name":"level","type":"integer"}]}}]
            """#)
        guard case .array(let list) = extensions else { throw SCIMError(status: 500, detail: "bad fixture") }
        return try TenantContext(id: "0b5e0000-0000-4000-8000-00000000aaaa", version: 3,
                                 settings: TenantSettings(name: "render", deprovisionPolicy: .hard, schemaExtensions: list))
    }

    func compare(_ kind: ResourceKind, _ stored: StoredResource, _ context: TenantContext) {
        let schema = SCIMService.schema(kind, context)
        let plan = context.renderPlan(kind)
        for query in Self.projections {
            let projection = SCIMService.projection(kind, context, query: query)
            let everything = projection.apply(to: Representation.render(stored, kind, schema, plan: plan, baseURL: "https://x.example/scim/v2"))
            let selected = projection.apply(to: Representation.render(stored, kind, schema, plan: plan, baseURL: "https://x.example/scim/v2",
                                                                      selection: plan.selection(projection)))
            #expect(JSONEncoder.encode(.object(selected)) == JSONEncoder.encode(.object(everything)), "\(kind) \(query ?? "no projection")")
            var seen = Set<String>()
            for (key, _) in selected { #expect(seen.insert(key).inserted, "\(key) twice: \(kind) \(query ?? "no projection")") }
        }
        // The layout `ResourceSchema.stamp` gives (schemas, id, attributes, meta), each key once.
        let full = Representation.render(stored, kind, schema, plan: plan, baseURL: "https://x.example/scim/v2")
        let keys = full.map(\.0)
        #expect(keys.first == "schemas" && keys.dropFirst().first == "id" && keys.last == "meta", "\(keys)")
        #expect(Set(keys).count == keys.count, "\(keys)")
        var unstamped = full
        unstamped["meta"] = nil
        #expect(JSONEncoder.encode(.object(schema.stamp(unstamped, id: stored.id, meta: ResourceMeta(
            resourceType: kind.rawValue, created: stored.created.iso8601, lastModified: stored.lastModified.iso8601,
            location: Representation.location(kind, stored.id, baseURL: "https://x.example/scim/v2"), version: String(stored.version)))))
                == JSONEncoder.encode(.object(full)))
    }

    @Test func aUserRendersTheSameWithTheSelection() throws {
        let context = try context()
        let body = try JSONDecoder.decode(#"""
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\#(Self.enterprise)","\#(Self.custom)"],
             "userName":"render@example.com","externalId":"ext-1","active":true,"displayName":"Ren Der",
             "name":{"givenName":"Ren","familyName":"Der","formatted":"Ren Der"},
             "emails":[{"value":"render@example.com","type":"work","primary":true},{"value":"r@home.example","type":"home"}],
             "phoneNumbers":[{"value":"+1 555 0100","type":"work"}],
             "\#(Self.enterprise)":{"employeeNumber":"42","department":"Eng","manager":{"value":"m-1","displayName":"Boss"}},
             "\#(Self.custom)":{"department":"Ops","level":7}}
            """#)
        var document = try context.users.normaliseForCreate(body).document
        // A schema the tenant has since removed: kept by the renderer, dropped by every projection.
        document["urn:example:params:scim:schemas:extension:removed:2.0:User"] = .object(["gone": .string("yes")])
        let created = PostgresTimestamp(microsecondsSinceEpoch: 1_733_400_000_123_000)
        var stored = StoredResource(id: "018f0000-0000-7000-8000-000000000042", document: document, version: 5, created: created,
                                    lastModified: PostgresTimestamp(microsecondsSinceEpoch: 1_733_400_100_000_456))
        stored.related = [MemberRef(value: "0b5e0000-0000-4000-8000-00000000c0de", type: "direct", display: "Team",
                                    ref: "https://x.example/scim/v2/Groups/0b5e0000-0000-4000-8000-00000000c0de")]
        compare(.user, stored, context)
        stored.related = []
        compare(.user, stored, context)
    }

    @Test func aGroupRendersTheSameWithTheSelection() throws {
        let context = try context()
        let body = try JSONDecoder.decode(#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team","externalId":"g-1"}"#)
        var stored = StoredResource(id: "0b5e0000-0000-4000-8000-00000000c0de", document: try context.groups.normaliseForCreate(body).document,
                                    version: 2, created: PostgresTimestamp(microsecondsSinceEpoch: 1_733_400_000_000_000),
                                    lastModified: PostgresTimestamp(microsecondsSinceEpoch: 1_733_400_000_000_000))
        stored.related = [MemberRef(value: "018f0000-0000-7000-8000-000000000042", type: "User", display: "Ren Der",
                                    ref: "https://x.example/scim/v2/Users/018f0000-0000-7000-8000-000000000042")]
        compare(.group, stored, context)
    }

    /// The default projection's selection is made once with the tenant context, and is the one a request would make.
    @Test func theCachedDefaultSelectionIsTheDefaultProjections() throws {
        let context = try context()
        for kind in [ResourceKind.user, .group] {
            let plan = context.renderPlan(kind)
            let projection = SCIMService.projection(kind, context, query: nil)
            let made = RenderPlan.makeSelection(projection, core: plan.core, extensions: plan.extensions)
            let cached = plan.defaultSelection
            #expect(cached.core == made.core && cached.extensions == made.extensions && cached.meta == made.meta)
            // A request without attributes gets it; so does one whose query names neither parameter.
            #expect(projection.isDefault && plan.selection(projection).core == cached.core)
            #expect(SCIMService.projection(kind, context, query: "filter=x").isDefault)
            #expect(!SCIMService.projection(kind, context, query: "attributes=id").isDefault)
        }
    }

    /// The prefilter really leaves things out (else this would be a test of nothing): `attributes=userName` builds
    /// neither `meta` nor the extensions.
    @Test func theSelectionSkipsWhatTheProjectionDrops() throws {
        let context = try context()
        let body = try JSONDecoder.decode(#"{"userName":"skip@example.com","\#(Self.enterprise)":{"employeeNumber":"1"}}"#)
        let stored = StoredResource(id: "018f0000-0000-7000-8000-000000000043", document: try context.users.normaliseForCreate(body).document,
                                    version: 1, created: PostgresTimestamp(microsecondsSinceEpoch: 0),
                                    lastModified: PostgresTimestamp(microsecondsSinceEpoch: 0))
        let plan = context.renderPlan(.user)
        let projection = SCIMService.projection(.user, context, query: "attributes=userName")
        let rendered = Representation.render(stored, .user, context.users, plan: plan, baseURL: "https://x.example/scim/v2",
                                             selection: plan.selection(projection))
        #expect(rendered["meta"] == nil)
        #expect(rendered[Self.enterprise] == nil)
        #expect(rendered["userName"] == "skip@example.com")
        #expect(rendered["id"] == "018f0000-0000-7000-8000-000000000043")
    }
}
