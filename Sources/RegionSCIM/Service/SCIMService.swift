import HTTPCore
package import JSON
import Postgres
package import SCIMCore
package import Telemetry

/// The SCIM service provider: each operation validates with SCIMCore, runs in one tenant-scoped transaction and
/// returns a `SCIMOutcome`. HTTP and Bulk both call it.
package final class SCIMService: Sendable {
    /// Tenant-scoped database access.
    package let database: RegionDatabase
    /// Limits and choices (page sizes, bulk limits, group response limit).
    package let settings: RegionSettings
    let logger: Logger
    /// Seconds since the epoch (cursor issue and expiry); replaceable in tests.
    let clock: @Sendable () -> Int64
    /// Which IdP quirks each tenant's requests needed (counted in memory, flushed in batches).
    package let quirkCounts: QuirkCounts
    /// Concurrent PATCHes of one group run in one transaction (see there why).
    package let groupWrites: GroupWriteCombiner

    /// A service; `clock` (seconds since the epoch) is for tests of cursor expiry.
    package init(database: RegionDatabase, settings: RegionSettings, logger: Logger, clock: (@Sendable () -> Int64)? = nil,
                quirkCounts: QuirkCounts = QuirkCounts(), metrics: MetricsRegistry? = nil) {
        self.database = database
        self.groupWrites = GroupWriteCombiner(database: database, maxBatch: settings.groupWriteBatchLimit,
                                              queueTimeout: settings.groupWriteQueueTimeout, registry: metrics)
        self.settings = settings
        self.logger = logger
        self.clock = clock ?? { Timestamp.nowEpochMillis() / 1000 }
        self.quirkCounts = quirkCounts
    }

    var configuration: ServiceProviderConfiguration { settings.serviceProvider }

    /// Counts the quirks a request needed (per tenant) and notes them on its scope (for its request log record).
    func note(_ quirks: QuirkSet, _ scope: RequestScope) {
        quirkCounts.record(tenant: scope.tenant, quirks)
        scope.quirks?.insert(quirks)
    }

    package static func schema(_ kind: ResourceKind, _ context: TenantContext) -> ResourceSchema {
        kind == .user ? context.users : context.groups
    }

    /// `attributes` / `excludedAttributes` from a query string (the tenant's cached default projection when the
    /// query has neither).
    static func projection(_ kind: ResourceKind, _ context: TenantContext, query: String?) -> Projection {
        let defaults = kind == .user ? context.defaultUserProjection : context.defaultGroupProjection
        guard let query, !query.isEmpty else { return defaults }
        let parameters = QueryString.decode(query)
        func value(_ name: String) -> String? { parameters.first { asciiCaseInsensitiveEquals($0.name, name) }?.value }
        let attributes = value("attributes"), excluded = value("excludedAttributes")
        if (attributes ?? "").isEmpty && (excluded ?? "").isEmpty { return defaults }
        return Projection(schema: schema(kind, context), attributes: attributes, excludedAttributes: excluded)
    }

    // MARK: Read

    /// GET one resource; 304 when `If-None-Match` names its current version.
    package func get(_ kind: ResourceKind, id: String, scope: RequestScope, query: String?, ifNoneMatch: String?) throws
        -> SCIMOutcome
    {
        guard let id = UUIDText.canonical(id) else { throw SCIMError.resourceNotFound(kind, id) }
        var withRelated = true
        return try database.read(tenant: scope.tenant, { context in
            withRelated = Self.projection(kind, context, query: query).includes(kind.relatedAttribute)
            return ResourceStore.get(kind, tenant: scope.tenant, id: id, withRelated: withRelated)
        }, decode: { context, results in
            guard let stored = try ResourceStore.decodeGet(kind, results, baseURL: scope.baseURL, withRelated: withRelated) else {
                throw SCIMError.resourceNotFound(kind, id)
            }
            if let tags = ifNoneMatch, ETag.ifMatch(tags, currentVersion: String(stored.version)) {
                return .notModified(version: stored.version)
            }
            return respond(stored, kind, context, scope: scope, query: query, status: 200)
        })
    }

    /// The resource as a response body, projected by the request's `attributes`/`excludedAttributes`.
    func respond(_ stored: StoredResource, _ kind: ResourceKind, _ context: TenantContext, scope: RequestScope,
                 query: String?, status: Int) -> SCIMOutcome {
        let schema = Self.schema(kind, context)
        let projection = Self.projection(kind, context, query: query)
        let plan = context.renderPlan(kind)
        let body = projection.apply(to: Representation.render(stored, kind, schema, plan: plan, baseURL: scope.baseURL,
                                                              selection: plan.selection(projection)))
        let location = status == 201 ? Representation.location(kind, stored.id, baseURL: scope.baseURL) : nil
        return .resource(status: status, body: body, version: stored.version, location: location)
    }

    /// Re-reads a resource inside the writing transaction, for the response.
    /// `committing`: the re-read is the transaction's last statement, and COMMIT travels with it.
    func reread(_ kind: ResourceKind, _ connection: PostgresConnection, _ context: TenantContext, id: String,
                scope: RequestScope, query: String?, committing: Bool = false) throws -> StoredResource {
        let withRelated = Self.projection(kind, context, query: query).includes(kind.relatedAttribute)
        let statements = ResourceStore.get(kind, tenant: scope.tenant, id: id, withRelated: withRelated)
        // One round trip for the resource and its members (a group's re-read is two statements).
        let results = committing ? try connection.pipelineCommitting(statements) : try connection.pipeline(statements)
        guard let stored = try ResourceStore.decodeGet(kind, results, baseURL: scope.baseURL, withRelated: withRelated) else {
            throw SCIMError.resourceNotFound(kind, id)
        }
        return stored
    }

    /// The answer to a write: the resource, or 204 (with the new ETag) for a PUT/PATCH of a group with more members
    /// than `groupResponseMemberLimit`, found from the group's trigger-kept count so the members are never loaded.
    /// `counted`: the group's `memberCount` row when already read after the write.
    /// `committing`: the answer's read is the transaction's last statement (a user write): COMMIT travels with it.
    func writeResponse(_ kind: ResourceKind, _ connection: PostgresConnection, _ context: TenantContext, id: String,
                       scope: RequestScope, query: String?, status: Int, counted: PostgresResult? = nil,
                       committing: Bool = false) throws -> SCIMOutcome {
        if kind == .group, status == 200, Self.projection(.group, context, query: query).includes("members") {
            let limit = settings.groupResponseMemberLimit
            let counted = try counted ?? connection.query(ResourceStore.memberCount, [.uuid(scope.tenant), .text(id)])
            if (counted.int(row: 0, column: 0) ?? 0) > Int64(limit) {
                return .noContent(version: counted.int(row: 0, column: 1))
            }
        }
        let stored = try reread(kind, connection, context, id: id, scope: scope, query: query, committing: committing)
        return respond(stored, kind, context, scope: scope, query: query, status: status)
    }

    // MARK: Create

    /// POST /Users or /Groups: always a new resource with a new id, or an error. A user POST never replaces a live
    /// user (same userName, active or not: 409 uniqueness) and never revives a deleted one (its id stays 404); an
    /// externalId match means nothing unless the tenant made externalId unique (then 409).
    package func create(_ kind: ResourceKind, body: JSONValue, scope: RequestScope, query: String?) throws -> SCIMOutcome {
        // Quirks are counted once the write committed (a retried transaction normalises again: assigned, not added).
        var quirks = QuirkSet()
        let outcome = try database.write(tenant: scope.tenant) { connection, context in
            let normalised = try Self.schema(kind, context).normaliseForCreate(body)
            quirks = normalised.quirks
            let document = normalised.document
            let row = try ResourceRow(kind: kind, document: document)
            switch kind {
            case .user:
                try claimExternalID(row, connection, context, user: nil)
                let directory = try database.directory.config(context, connection)
                // The transaction's last statements: COMMIT travels with them (one round trip for the whole POST).
                let created = try connection.pipelineCommitting(Self.createUserStatements(tenant: scope.tenant, id: UUIDText.version7(), row,
                                                                                document, directory))[0]
                guard created.rowCount == 1 else { throw SCIMError(status: 500, detail: "the user was not stored") }
                var stored = try ResourceStore.decode(.user, created, row: 0, baseURL: scope.baseURL)
                stored.related = []
                return respond(stored, .user, context, scope: scope, query: query, status: 201)
            case .group:
                let id = UUIDText.version7()
                try connection.query(ResourceStore.insertGroup, ResourceStore.groupValues(tenant: scope.tenant, id: id, row, document))
                let members = try normalised.members()
                var roles = try RoleImpact(self, connection, context, group: id, before: nil, after: document)
                if !members.isEmpty {
                    roles.collect(try addMembers(members, upsert: false, connection, tenant: scope.tenant, group: id))
                }
                try roles.finish(self, connection, tenant: scope.tenant, group: id)
                return try writeResponse(.group, connection, context, id: id, scope: scope, query: query, status: 201)
            }
        }
        note(quirks, scope)
        return outcome
    }

    // MARK: Replace

    /// PUT: a full replace honouring mutability (readOnly ignored, immutable kept); for groups `members` too.
    package func replace(_ kind: ResourceKind, id: String, body: JSONValue, scope: RequestScope, query: String?,
                        ifMatch: String?) throws -> SCIMOutcome {
        guard let id = UUIDText.canonical(id) else { throw SCIMError.resourceNotFound(kind, id) }
        var quirks = QuirkSet()
        let outcome = try database.write(tenant: scope.tenant) { connection, context in
            let current = try lockForWrite(kind, connection, scope: scope, id: id, ifMatch: ifMatch)
            let normalised = try Self.schema(kind, context).normaliseForReplace(body, existing: current.document)
            quirks = normalised.quirks
            var changed = false
            if normalised.document != current.document {
                try update(kind, connection, context, tenant: scope.tenant, id: id, old: current.document, new: normalised.document)
                changed = true
            }
            if kind == .group {
                let members = try normalised.members()
                var roles = try RoleImpact(self, connection, context, group: id, before: current.document, after: normalised.document)
                let delta = try applyMembership(.replaceAll(members), connection, scope: scope, group: id, roles: &roles)
                if delta > 0 && !changed {
                    try connection.sendAhead([.prepared(ResourceStore.touchGroup, [.uuid(scope.tenant), .text(id)])], rejectedBy: [])
                }
                try roles.finish(self, connection, tenant: scope.tenant, group: id)
            }
            return try writeResponse(kind, connection, context, id: id, scope: scope, query: query, status: 200,
                                     committing: kind == .user)
        }
        note(quirks, scope)
        return outcome
    }

    /// Writes a changed document and its derived columns (and a user's email rows when they changed).
    func update(_ kind: ResourceKind, _ connection: PostgresConnection, _ context: TenantContext, tenant: String, id: String,
                old: JSONObject, new: JSONObject) throws {
        let row = try ResourceRow(kind: kind, document: new)
        switch kind {
        case .user:
            if row.externalID != (try? ResourceRow(kind: .user, document: old))?.externalID {
                try claimExternalID(row, connection, context, user: id)
            }
            let profile = ProfileStore.value(new, try database.directory.config(context, connection).mapping)
            var statements: [PostgresStatement] = [.prepared(ResourceStore.updateUser,
                                                              ResourceStore.userValues(tenant: tenant, id: id, row, new) + [profile])]
            let oldKeys = (try? ResourceRow(kind: .user, document: old))?.emailKeys
            if oldKeys != row.emailKeys {
                statements.append(.prepared(ResourceStore.syncEmails, ResourceStore.emailValues(tenant: tenant, id: id, row)))
            }
            // Nobody reads their results: they travel with the next statement (the answer's re-read).
            try connection.sendAhead(statements, rejectedBy: [])
        case .group:
            try connection.sendAhead([.prepared(ResourceStore.updateGroup, ResourceStore.groupValues(tenant: tenant, id: id, row, new))], rejectedBy: [])
        }
    }

    /// A tenant with `uniqueExternalId` refuses a second live user with the same externalId (409); for everyone
    /// else externalId is the client's business (RFC 7643 §3.1) and this costs nothing.
    func claimExternalID(_ row: ResourceRow, _ connection: PostgresConnection, _ context: TenantContext, user: String?) throws {
        guard context.settings.uniqueExternalId, let externalID = row.externalID else { return }
        let results = try connection.pipeline([
            .prepared(ResourceStore.lockExternalID, [.uuid(context.id), .text(externalID)]),
            .prepared(ResourceStore.externalIDTaken, [.uuid(context.id), .text(externalID), user.map { .text($0) } ?? .null]),
        ])
        if results[1].bool(row: 0, column: 0) == true {
            throw SCIMError.uniqueness("externalId is already in use in this tenant (this tenant keeps externalIds unique)")
        }
    }

    /// The live resource, row-locked for the rest of the transaction, after its `If-Match` (404 when absent, 412 when
    /// the version differs).
    func lockForWrite(_ kind: ResourceKind, _ connection: PostgresConnection, scope: RequestScope, id: String,
                      ifMatch: String?) throws -> StoredResource {
        guard let current = try ResourceStore.lock(kind, connection, tenant: scope.tenant, id: id, baseURL: scope.baseURL) else {
            throw SCIMError.resourceNotFound(kind, id)
        }
        try Self.check(ifMatch: ifMatch, current.version)
        return current
    }

    static func check(ifMatch: String?, _ version: Int64) throws(SCIMError) {
        if let ifMatch, !ETag.ifMatch(ifMatch, currentVersion: String(version)) { throw .preconditionFailed }
    }

    // MARK: Patch

    /// PATCH: the SCIMCore engine applies the operations to the locked document atomically; group membership
    /// changes become single INSERT/DELETE statements on member rows (the group document is never rewritten for them).
    package func patch(_ kind: ResourceKind, id: String, body: JSONValue, scope: RequestScope, query: String?,
                      ifMatch: String?) throws -> SCIMOutcome {
        guard let id = UUIDText.canonical(id) else { throw SCIMError.resourceNotFound(kind, id) }
        let request = try PatchRequest.parse(body, maxOperations: configuration.bulkMaxOperations)
        let write: GroupWriteCombiner.Body = { [self] connection, context, carry in
            // In a shared transaction the previous PATCH may have left the (still locked) group as it now is.
            let current: StoredResource
            if let carried = carry.take() {
                try Self.check(ifMatch: ifMatch, carried.version)
                current = carried
            } else {
                current = try lockForWrite(kind, connection, scope: scope, id: id, ifMatch: ifMatch)
            }
            let result = try Self.schema(kind, context).applyPatch(request, to: current.document)
            if result.documentChanged {
                try update(kind, connection, context, tenant: scope.tenant, id: id, old: current.document, new: result.document)
            }
            if kind == .group {
                var roles = try RoleImpact(self, connection, context, group: id, before: current.document, after: result.document)
                if !result.documentChanged, result.membershipChanges.count == 1, case .add(let members) = result.membershipChanges[0] {
                    // The common IdP push (one PATCH adding members): the insert bumps the version itself when it
                    // added a row, and the answer's member count rides with it: one round trip, not two.
                    let (added, counted) = try addMembers(members, upsert: false, connection, tenant: scope.tenant, group: id,
                                                          touchingThenCount: true)
                    roles.collect(added)
                    try roles.finish(self, connection, tenant: scope.tenant, group: id)
                    // The document is as locked (an add does not change it) and the version as just read back.
                    if let version = counted?.int(row: 0, column: 1) {
                        var after = current
                        after.version = version
                        carry.group = after
                    }
                    return (try writeResponse(kind, connection, context, id: id, scope: scope, query: query, status: 200,
                                              counted: counted), result.quirks)
                }
                var delta = 0
                for change in result.membershipChanges {
                    delta += try applyMembership(change, connection, scope: scope, group: id, roles: &roles)
                }
                if delta > 0 && !result.documentChanged {
                    // Travels with the next statement (the answer's member count or re-read).
                    try connection.sendAhead([.prepared(ResourceStore.touchGroup, [.uuid(scope.tenant), .text(id)])], rejectedBy: [])
                }
                try roles.finish(self, connection, tenant: scope.tenant, group: id)
            }
            // A user's PATCH never shares its transaction (only a group's do: `GroupWriteCombiner`), so it can end it.
            return (try writeResponse(kind, connection, context, id: id, scope: scope, query: query, status: 200,
                                      committing: kind == .user), result.quirks)
        }
        // Concurrent PATCHes of one group share a transaction (`GroupWriteCombiner`); a user's PATCH meets no one.
        let (outcome, quirks) = kind == .group
            ? try groupWrites.run(tenant: scope.tenant, group: id, write)
            : try database.write(tenant: scope.tenant) { try write($0, $1, GroupWriteCombiner.Carry()) }
        note(quirks, scope)
        return outcome
    }

    /// Runs one membership change; returns how many member rows it added, changed or removed. When the group's
    /// members' roles depend on it, `roles` collects the members it added or removed.
    func applyMembership(_ change: MembershipChange, _ connection: PostgresConnection, scope: RequestScope, group: String,
                         roles: inout RoleImpact) throws -> Int
    {
        let tenant = scope.tenant
        /// A DELETE: counted, or (when roles depend on the group) with the removed user members collected.
        func delete(_ plain: PreparedStatement, _ returning: PreparedStatement, _ values: [PostgresValue]) throws -> Int {
            guard roles.collecting else { return try connection.execute(plain, values) }
            let removed = try connection.query(returning, values)
            roles.collect((0..<removed.rowCount).compactMap { removed.string(row: $0, column: 0) })
            return removed.rowCount
        }
        switch change {
        case .add(let members):
            let added = try addMembers(members, upsert: false, connection, tenant: tenant, group: group)
            roles.collect(added)
            return added.count
        case .remove(let values):
            let ids = values.compactMap { UUIDText.canonical($0) }
            if ids.isEmpty { return 0 }
            return try delete(ResourceStore.removeMembers, ResourceStore.removeMembersReturning,
                              [.uuid(tenant), .text(group), .text(ArrayLiteral.text(ids))])
        case .removeMatching(let filter):
            var sql = FilterSQL(kind: .group, tenant: tenant, baseURL: scope.baseURL)
            let condition = sql.compile(filter, .member("m"))
            let groupParameter = sql.bindings.bind(.uuid(group))
            let statement = "DELETE FROM group_members m WHERE m.tenant_id = $1 AND m.group_id = \(groupParameter) AND \(condition)"
            guard roles.collecting else { return try connection.execute(statement, sql.bindings.values) }
            let removed = try connection.query(statement + ResourceStore.returningUsers, sql.bindings.values)
            roles.collect((0..<removed.rowCount).compactMap { removed.string(row: $0, column: 0) })
            return removed.rowCount
        case .removeAll:
            return try delete(ResourceStore.removeAllMembers, ResourceStore.removeAllMembersReturning, [.uuid(tenant), .text(group)])
        case .replaceAll(let members):
            let ids = try Self.memberIDs(members, group: group)
            let removed = try delete(ResourceStore.removeOtherMembers, ResourceStore.removeOtherMembersReturning,
                                     [.uuid(tenant), .text(group), .text(ArrayLiteral.text(ids.map(\.id)))])
            let added = members.isEmpty ? [] : try addMembers(members, upsert: true, connection, tenant: tenant, group: group)
            roles.collect(added)
            return removed + added.count
        }
    }

    /// Validated, de-duplicated member ids (first display wins); a group may not contain itself.
    static func memberIDs(_ members: [MemberRef], group: String) throws(SCIMError) -> [(id: String, display: String?)] {
        var out: [(id: String, display: String?)] = []
        var seen: Set<String> = []
        for member in members {
            guard let id = UUIDText.canonical(member.value) else {
                throw .invalidValue("member '\(member.value.prefix(64))' is not a user or group of this tenant")
            }
            if id == group { throw .invalidValue("a group cannot be a member of itself") }
            if seen.insert(id).inserted { out.append((id, member.display)) }
        }
        return out
    }

    /// Inserts member rows for members that exist; refuses the whole request when one does not. Returns the ids of
    /// the members whose rows it inserted (or, with `upsert`, changed).
    func addMembers(_ members: [MemberRef], upsert: Bool, _ connection: PostgresConnection, tenant: String, group: String)
        throws -> [String]
    {
        try addMembers(members, upsert: upsert, connection, tenant: tenant, group: group, touchingThenCount: false).added
    }

    /// `addMembers`; with `touchingThenCount` (a PATCH whose only change is this add) the statement also bumps the
    /// group's version when it added a row, and the group's `memberCount` row is read in the same round trip.
    func addMembers(_ members: [MemberRef], upsert: Bool, _ connection: PostgresConnection, tenant: String, group: String,
                    touchingThenCount: Bool) throws -> (added: [String], counted: PostgresResult?)
    {
        let wanted = try Self.memberIDs(members, group: group)
        if wanted.isEmpty { return ([], nil) }
        let json = JSONValue.array(wanted.map { member in
            .object(["id": .string(member.id), "display": member.display.map(JSONValue.string) ?? .null])
        })
        let values: [PostgresValue] = [.uuid(tenant), .text(group), .jsonb(json.description)]
        let result: PostgresResult
        var counted: PostgresResult?
        if touchingThenCount {
            let results = try connection.pipeline([.prepared(ResourceStore.addMembersTouching, values),
                                                   .prepared(ResourceStore.memberCount, [.uuid(tenant), .text(group)])])
            result = results[0]
            counted = results[1]
        } else {
            result = try connection.query(upsert ? ResourceStore.replaceMembers : ResourceStore.addMembers, values)
        }
        var found: Set<String> = []
        var changed: [String] = []
        for row in 0..<result.rowCount {
            guard let id = result.string(row: row, column: 0) else { continue }
            found.insert(id)
            if result.bool(row: row, column: 1) == true { changed.append(id) }
        }
        if let missing = wanted.first(where: { !found.contains($0.id) }) {
            throw SCIMError.invalidValue("member '\(missing.id)' is not a user or group of this tenant")
        }
        return (changed, counted)
    }

    // MARK: Delete

    /// DELETE under the tenant's deprovision policy (users); groups are always deleted.
    package func delete(_ kind: ResourceKind, id: String, scope: RequestScope, ifMatch: String?) throws -> SCIMOutcome {
        guard let id = UUIDText.canonical(id) else { throw SCIMError.resourceNotFound(kind, id) }
        return try database.write(tenant: scope.tenant) { connection, context in
            let policy = context.settings.deprovisionPolicy
            if kind == .user && policy == .refuse { throw SCIMError.deletionRefused }
            if ifMatch != nil { _ = try lockForWrite(kind, connection, scope: scope, id: id, ifMatch: ifMatch) }
            let delete: PreparedStatement
            switch kind {
            case .user: delete = policy == .soft ? ResourceStore.softDeleteUser : ResourceStore.deleteUser
            case .group: delete = ResourceStore.deleteGroup
            }
            let parameters: [PostgresValue] = [.uuid(scope.tenant), .text(id)]
            // A group whose members' roles depend on it: who they are, before they go with it.
            let roles = kind == .group ? try RoleImpact(self, connection, context, deleting: id) : RoleImpact.none
            // COMMIT does not ride here: the 404 below must roll back `dropMemberships`, which a DELETE /Users/{id}
            // naming a group's id would otherwise have committed (its memberships in other groups gone).
            let results = try connection.pipeline([.prepared(delete, parameters), .prepared(ResourceStore.dropMemberships, parameters)])
            guard results[0].affectedRows == 1 else { throw SCIMError.resourceNotFound(kind, id) }
            try roles.finish(self, connection, tenant: scope.tenant, group: nil)
            return .noContent(version: nil)
        }
    }
}

extension SCIMError {
    /// 405 under the `refuse` deprovision policy.
    static let deletionRefused = SCIMError(
        status: 405, detail: "this tenant does not support deletion of users; deactivate the user (active=false) instead")
}
