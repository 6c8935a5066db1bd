// swift-tools-version:6.0
//
// SCIM gateway: a multi-tenant, region-aware SCIM 2.0 gateway.
// No third-party Swift packages: C libraries come in as system library targets.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "scim-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scim-gateway", targets: ["scim-gateway"]),
        .executable(name: "scim-region", targets: ["scim-region"]),
        .executable(name: "scimctl", targets: ["scimctl"]),
    ],
    targets: [
        // C libraries (module.modulemap + shim.h only).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLinuxIO"),

        // Pure modules: no I/O, no C.
        // Gregorian calendar arithmetic and zero-padded decimals, shared by every timestamp format.
        .target(name: "CivilTime", swiftSettings: strict),
        .target(name: "JSON", swiftSettings: strict),
        .target(name: "SCIMCore", dependencies: ["JSON", "HTTPCore", "CivilTime"], swiftSettings: strict),
        .target(name: "HTTPCore", swiftSettings: strict),
        .target(name: "Flags", swiftSettings: strict),
        // Synchronisation primitives (a glibc mutex around a value, and the same with a condition variable).
        .target(name: "Locking", swiftSettings: strict),
        .target(name: "Telemetry", dependencies: ["Locking", "CivilTime"], swiftSettings: strict),
        // Threads and long-running services: thread handles, periodic threads, Service and its runner (signals,
        // graceful shutdown in reverse start order).
        .target(name: "WebUI", dependencies: ["Crypto", "HTTPCore"], swiftSettings: strict),
        .target(name: "Lifecycle", dependencies: ["Locking", "Telemetry", "CLinuxIO"], swiftSettings: strict),

        // I/O modules.
        .target(name: "Crypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "NetIO", dependencies: ["HTTPCore", "CLinuxIO", "COpenSSL", "Telemetry", "Locking", "Lifecycle"],
                swiftSettings: strict),
        .target(name: "Postgres", dependencies: ["CLibPQ", "Crypto", "Locking", "CivilTime"], swiftSettings: strict),

        // The gateway→region hop: keyring, request signing and verification (HMAC, key ids, replay window).
        .target(name: "RegionLink", dependencies: ["HTTPCore", "Crypto", "Locking", "CivilTime"], swiftSettings: strict),

        // What every server process shares: common flags, logging set-up, health endpoints.
        .target(name: "ServerRuntime", dependencies: ["HTTPCore", "NetIO", "Telemetry", "Flags", "JSON", "RegionLink", "Crypto", "Locking", "Lifecycle"],
                swiftSettings: strict),

        // The services, as libraries.
        // The region: its SCIM service provider (storage, tenancy, schema, the service), the events and webhooks
        // subsystem beside it, and the process that composes them (HTTP surface, wiring, background services).
        .target(name: "RegionSCIM",
                dependencies: ["SCIMCore", "JSON", "HTTPCore", "Postgres", "Crypto", "Telemetry", "RegionLink", "Locking",
                               "Lifecycle"],
                swiftSettings: strict),
        .target(name: "RegionEvents",
                dependencies: ["RegionSCIM", "SCIMCore", "JSON", "HTTPCore", "NetIO", "Postgres", "Crypto", "Telemetry",
                               "RegionLink", "Locking", "Lifecycle"],
                swiftSettings: strict),
        // The request log (issue 17): capture, redaction, the background writer, retention and its internal API.
        .target(name: "RegionRequestLog",
                dependencies: ["RegionSCIM", "SCIMCore", "JSON", "Postgres", "Crypto", "Telemetry", "Locking", "Lifecycle"],
                swiftSettings: strict),
        // Moving a tenant to another region: tenant tables read from the live catalog, rows compared in hashed
        // buckets, copied as JSON, the write fence and its fencing token (the gateway's mover drives it).
        .target(name: "RegionMove",
                dependencies: ["RegionSCIM", "SCIMCore", "JSON", "HTTPCore", "Postgres", "Crypto", "Telemetry", "Locking"],
                swiftSettings: strict),
        .target(name: "RegionApp",
                dependencies: ["RegionSCIM", "RegionEvents", "RegionRequestLog", "RegionMove", "SCIMCore", "JSON", "HTTPCore", "NetIO", "Postgres", "Telemetry", "Flags", "ServerRuntime", "RegionLink", "Lifecycle"],
                swiftSettings: strict),
        .target(name: "GatewayApp",
                dependencies: ["SCIMCore", "JSON", "HTTPCore", "NetIO", "Postgres", "Crypto", "Telemetry", "Flags",
                               "ServerRuntime", "RegionLink", "Locking", "Lifecycle", "WebUI"],
                exclude: ["Admin/admin-openapi.yaml"],
                swiftSettings: strict),

        // The operator's CLI over the admin API: HTTP and JSON only (no database driver, no gateway code).
        .target(name: "Scimctl", dependencies: ["Flags", "HTTPCore", "JSON", "NetIO", "RegionLink"],
                swiftSettings: strict),

        // Executables: wiring only.
        .executableTarget(name: "scim-gateway", dependencies: ["GatewayApp"], swiftSettings: strict),
        .executableTarget(name: "scim-region", dependencies: ["RegionApp"], swiftSettings: strict),
        .executableTarget(name: "scimctl", dependencies: ["Scimctl"], swiftSettings: strict),

        // Micro-benchmarks of the pure modules (release build): swift run -c release scimcore-bench
        .executableTarget(name: "scimcore-bench", dependencies: ["SCIMCore", "JSON"], path: "Tests/Benchmarks/scimcore-bench",
                          swiftSettings: strict),

        // Shared test helpers (PostgreSQL URL, process launcher, raw HTTP client).
        .target(name: "TestSupport", dependencies: ["HTTPCore", "NetIO", "Postgres", "JSON", "RegionLink", "Telemetry", "Lifecycle", "Locking"],
                path: "Tests/TestSupport", swiftSettings: strict),

        .testTarget(name: "CivilTimeTests", dependencies: ["CivilTime"], swiftSettings: strict),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: strict),
        .testTarget(name: "SCIMCoreTests", dependencies: ["SCIMCore", "JSON", "HTTPCore"], swiftSettings: strict),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore"], swiftSettings: strict),
        .testTarget(name: "FlagsTests", dependencies: ["Flags"], swiftSettings: strict),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: strict),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"], swiftSettings: strict),
        .testTarget(name: "ServerRuntimeTests", dependencies: ["ServerRuntime", "HTTPCore", "Telemetry"], swiftSettings: strict),
        .testTarget(name: "GatewayAppTests", dependencies: ["GatewayApp", "TestSupport", "Postgres", "RegionLink", "JSON", "HTTPCore", "NetIO", "ServerRuntime", "Telemetry", "Locking", "Crypto", "Lifecycle"],
                    swiftSettings: strict),
        .testTarget(name: "WebUITests", dependencies: ["WebUI", "Crypto", "HTTPCore"], swiftSettings: strict),
        .testTarget(name: "RegionLinkTests", dependencies: ["RegionLink", "HTTPCore", "Crypto"], swiftSettings: strict),
        .testTarget(name: "NetIOTests", dependencies: ["NetIO", "HTTPCore", "TestSupport", "Lifecycle", "Locking", "Telemetry"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "RegionAppTests",
                    dependencies: ["RegionApp", "RegionSCIM", "RegionEvents", "RegionRequestLog", "TestSupport", "SCIMCore", "JSON", "HTTPCore", "NetIO", "Postgres", "RegionLink", "Crypto", "Telemetry", "Lifecycle"],
                    swiftSettings: strict),
        .testTarget(name: "RegionMoveTests",
                    dependencies: ["RegionMove", "RegionApp", "RegionSCIM", "TestSupport", "SCIMCore", "JSON", "HTTPCore", "Postgres", "RegionLink",
                                   "Crypto", "Telemetry", "Lifecycle"],
                    swiftSettings: strict),
        .testTarget(name: "IntegrationTests",
                    dependencies: ["TestSupport", "JSON", "HTTPCore", "NetIO", "Postgres", "Telemetry", "Lifecycle", "Crypto"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
