import WebUI

/// Step-by-step instructions for each IdP on the setup page: where to click and which of our values goes in which
/// field. The facts come from docs/idp-behaviour.md (each IdP's section and its public sources); the values are
/// the tenant's own (region-correct SCIM URL, a token issued on demand).
struct IdPGuide: Sendable {
    /// What a field of the IdP's form takes.
    enum Value: Sendable {
        case scimBaseURL
        case token
        /// `API_KEY:SCIM_KEY`, for clients that ask for two values.
        case keyPair
        case literal(String)
    }

    var id: String
    var name: String
    /// Where the provisioning settings are, in the IdP's admin console.
    var whereToGo: String
    /// (field label in the IdP, what to put there)
    var fields: [(String, Value)]
    var steps: [String]
    /// What the IdP matches users on, and which attributes it sends.
    var matching: String
    /// How the IdP's own connection test behaves (what shows up in the live check).
    var connectionTest: String

    static let all: [IdPGuide] = [okta, entra, jumpCloud, oneLogin, google, ping, rippling, other]

    static func named(_ id: String) -> IdPGuide? { all.first { $0.id == id } }

    static let okta = IdPGuide(
        id: "okta", name: "Okta",
        whereToGo: "Okta Admin Console → Applications → your app (or the SCIM 2.0 Test App) → Provisioning → Integration → Edit",
        fields: [("SCIM connector base URL", .scimBaseURL), ("Unique identifier field for users", .literal("userName")),
                 ("Authentication Mode", .literal("HTTP Header")), ("Authorization", .token)],
        steps: ["Tick the supported provisioning actions: Push New Users, Push Profile Updates, Push Groups.",
                "Paste the token as the Authorization value (Okta adds \"Bearer \" itself; pasting it with \"Bearer \" works too).",
                "Select Test Connector Configuration, then Save.",
                "Under Provisioning → To App, enable Create Users, Update User Attributes and Deactivate Users."],
        matching: "Okta looks users up by userName and sends name, emails and active; group push sends displayName and members.",
        connectionTest: "The test sends GET /Users?startIndex=1&count=2; it appears below within seconds.")

    static let entra = IdPGuide(
        id: "entra", name: "Microsoft Entra ID",
        whereToGo: "Microsoft Entra admin center → Enterprise applications → your app → Provisioning → Admin Credentials",
        fields: [("Provisioning Mode", .literal("Automatic")), ("Tenant URL", .scimBaseURL), ("Secret Token", .token)],
        steps: ["Set Provisioning Mode to Automatic and paste the Tenant URL and Secret Token.",
                "Select Test Connection: Entra looks up a random userName and expects an empty list, which it gets.",
                "Review Mappings (userName ← userPrincipalName by default), set the scope, and turn Provisioning Status On.",
                "For OAuth 2.0 client credentials instead of a token (gallery apps), ask your provider for a client id and secret."],
        matching: "Entra matches on userName (userPrincipalName by default), updates only by PATCH and disables rather than deletes.",
        connectionTest: "Test Connection sends GET /Users?filter=userName eq \"<random id>\"; the first sync runs about every 40 minutes.")

    static let jumpCloud = IdPGuide(
        id: "jumpcloud", name: "JumpCloud",
        whereToGo: "JumpCloud Admin Portal → SSO Applications → your app → Identity Management",
        fields: [("Base URL", .scimBaseURL), ("Token Key", .token), ("Test User Email", .literal("an address not yet in use"))],
        steps: ["Choose SCIM 2.0 and paste the Base URL and Token Key.",
                "Select Test Connection: JumpCloud creates and then deletes (or deactivates) a test user and group.",
                "Activate, then bind user groups to the application."],
        matching: "JumpCloud sends full user bodies with PUT; null or [] clears a value.",
        connectionTest: "Activation creates a test user and group; they appear below.")

    static let oneLogin = IdPGuide(
        id: "onelogin", name: "OneLogin",
        whereToGo: "OneLogin Administration → Applications → your SCIM Provisioner app → Configuration",
        fields: [("SCIM Base URL", .scimBaseURL), ("SCIM Bearer Token", .token), ("SCIM JSON Template", .literal("the default template"))],
        steps: ["Paste the SCIM Base URL and SCIM Bearer Token, then select Enable under API Connection.",
                "Under Provisioning, enable provisioning and choose what Delete and Suspend do.",
                "Edit the SCIM JSON Template only if your app needs more attributes."],
        matching: "OneLogin looks users up by userName; bodies follow the admin-editable JSON template.",
        connectionTest: "Enabling the API connection looks up a userName that does not exist and expects an empty list.")

    static let google = IdPGuide(
        id: "google", name: "Google Workspace",
        whereToGo: "Google Admin console → Apps → Web and mobile apps → your catalog app → Auto-provisioning",
        fields: [("Endpoint URL", .scimBaseURL), ("Access token", .token)],
        steps: ["Google provisions only to supported catalog apps; use the catalog app your provider names, with our endpoint URL.",
                "Paste the endpoint URL and access token, map attributes, set the scope and turn auto-provisioning on.",
                "Google syncs every few hours: be patient after the first save."],
        matching: "Google looks users up with a userName filter and sends plain application/json.",
        connectionTest: "The first requests may take several hours to arrive.")

    static let ping = IdPGuide(
        id: "ping", name: "Ping Identity",
        whereToGo: "PingFederate → SP Connections → your connection → Outbound Provisioning → Configure Channel / Target",
        fields: [("SCIM URL", .scimBaseURL), ("SCIM Version", .literal("2.0")), ("Authentication Method", .literal("OAuth 2 Bearer Token")),
                 ("Access Token", .token), ("Unique User Identifier", .literal("userName"))],
        steps: ["Paste the SCIM URL and the token; keep userName as the unique user identifier.",
                "Users are updated by PUT (Ping does not PATCH users); choose Disable or Delete as the Remove User Action.",
                "Activate the channel."],
        matching: "Ping filters users by userName (or the filter expression you set) and lists all groups to find a match.",
        connectionTest: "Ping's first provisioning cycle lists users and groups; they appear below.")

    static let rippling = IdPGuide(
        id: "rippling", name: "Rippling",
        whereToGo: "Rippling → App Shop → your custom app → Settings → User Management via SCIM",
        fields: [("SCIM Base URL", .scimBaseURL), ("API key / token", .token), ("If two fields are asked (API_KEY:SCIM_KEY)", .keyPair)],
        steps: ["Paste the SCIM Base URL and the token.",
                "Choose the group options that match your app (Supports Groups, Use PATCH to edit Groups).",
                "Select Test connection, then start provisioning."],
        matching: "Rippling sends externalId, primary email, given and family name and employeeNumber.",
        connectionTest: "The test is said to read /ServiceProviderConfig; it appears below.")

    static let other = IdPGuide(
        id: "other", name: "Another SCIM 2.0 client",
        whereToGo: "Your IdP's provisioning (SCIM) settings",
        fields: [("SCIM base URL", .scimBaseURL), ("Bearer token", .token), ("Two-field form (API_KEY:SCIM_KEY)", .keyPair)],
        steps: ["Send Authorization: Bearer <token> on every request.",
                "Use userName as the unique identifier.",
                "Run your IdP's connection test and watch the requests arrive below."],
        matching: "RFC 7643 User and Group resources; PATCH and PUT both work.",
        connectionTest: "Any request with the token shows up below within seconds.")
}
