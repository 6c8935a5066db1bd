package import JSON
package import SCIMCore
import Postgres

/// Turning stored rows into SCIM representations.
/// What rendering needs from a schema, computed once per tenant context: attribute names in schema order and the
/// sub-attribute order of complex attributes. (Walking the full attribute definitions on every request was a large
/// share of a GET's instructions.)
package struct RenderPlan: Sendable {
    struct Attribute: Sendable {
        var name: String
        /// Sub-attribute names in definition order, for complex attributes.
        var subOrder: [String]?
    }
    var related: String
    /// Where `related` sits among `core` (nil when the schema has no such attribute).
    var relatedIndex: Int?
    var core: [Attribute]
    var extensions: [(id: String, attributes: [Attribute])]

    /// `defaultProjection`: the tenant's projection for requests without `attributes`/`excludedAttributes`.
    init(_ kind: ResourceKind, _ schema: ResourceSchema, defaultProjection: Projection) {
        func attribute(_ def: AttributeDefinition) -> Attribute {
            Attribute(name: def.name, subOrder: def.type == .complex ? def.subAttributes.map(\.name) : nil)
        }
        related = kind.relatedAttribute
        // `schemas`, `id` and `meta` are placed by the renderer itself (first, second, last).
        core = (CommonAttributes.all + schema.core.attributes).map(attribute)
            .filter { $0.name != "schemas" && $0.name != "id" && $0.name != "meta" }
        let relatedName = related
        relatedIndex = core.firstIndex { $0.name == relatedName }
        extensions = schema.extensions.map { (ext, _) in (ext.id, ext.attributes.map(attribute)) }
        defaultSelection = Self.makeSelection(defaultProjection, core: core, extensions: extensions)
    }

    /// The selection of the default projection (no `attributes`/`excludedAttributes`: most requests), made once
    /// with the tenant context instead of per request.
    package let defaultSelection: Selection

    /// Which parts of a resource a projection can keep, decided once per request (not per rendered resource): the
    /// renderer skips the rest, so a page of `attributes=userName` does not build 100 `meta` objects and documents
    /// only to have `Projection.apply` drop them. Only a prefilter: `apply` still runs on what is rendered.
    package struct Selection: Sendable {
        var core: [Bool]
        var extensions: [Bool]
        var meta: Bool
    }

    /// The selection for `projection` (a projection of this plan's schema): the cached one for the default.
    package func selection(_ projection: Projection) -> Selection {
        projection.isDefault ? defaultSelection : Self.makeSelection(projection, core: core, extensions: extensions)
    }

    static func makeSelection(_ projection: Projection, core: [Attribute], extensions: [(id: String, attributes: [Attribute])]) -> Selection {
        Selection(core: core.map { projection.includes($0.name) },
                  extensions: extensions.map { projection.includesExtension($0.id) },
                  meta: projection.includes("meta"))
    }
}
