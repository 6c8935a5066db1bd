// SCIMCore: everything about SCIM 2.0 semantics, with no I/O. How the regional backend uses it:
//
//   let registry = SchemaRegistry.standard                       // or .adding(extension:to:) per tenant
//   let users = registry.resourceSchema("User")!
//
// POST /Users
//   let body = try JSONDecoder.decode(bytes)                      // JSONError → SCIMError.malformedJSON
//   let n = try users.normaliseForCreate(body)                    // 400 invalidValue / invalidSyntax
//   // n.document: canonical JSON to store; n.writeOnlyValues: password (never stored with the resource)
//   // Group: n.members() → membership rows
//   let stored = users.stamp(n.document, id: newID, meta: ResourceMeta(...))   // meta.version = W/"v"
//
// PUT /Users/{id}
//   let n = try users.normaliseForReplace(body, existing: storedDocument)     // immutable → 400 mutability
//
// PATCH /Users/{id}
//   let request = try PatchRequest.parse(body)                    // ops in any case, schemas optional (Okta)
//   let r = try users.applyPatch(request, to: storedDocument)    // atomic: throws or returns the whole result
//   // r.documentChanged (bump version only then), r.changedAttributes / r.newActive / r.newUserName …
//   // Group: r.membershipChanges → one SQL statement each, in order
//
// GET /Users?filter=…&startIndex=…&count=…  (or POST /.search)
//   let q = try ListQuery(queryString: rawQuery, schema: users, configuration: spc)
//   // q.filter: ResolvedFilter — compile to SQL from ResolvedPath (container, attribute, subAttribute,
//   //           type, caseExact, multiValued), or evaluate in memory with q.filter.matches(document)
//   // q.sortBy / q.sortOrder / q.pagination (.index or RFC 9865 .cursor)
//   // q.projection.includes("members") → whether to load members at all
//   let page = ListResponse(totalResults: n, startIndex: s, resources: docs.map { q.projection.apply(to: $0) })
//
// Discovery: registry.schemasListResponse(baseURL:), registry.resourceTypesListResponse(baseURL:),
//            ServiceProviderConfiguration(...).json(baseURL:)
// Errors:    SCIMError.json / .body render the Error envelope; its description is safe to log.
//
// Every non-RFC input we accept is listed in `IdPQuirk` (IdPDialect.swift) with the IdP and its source.
