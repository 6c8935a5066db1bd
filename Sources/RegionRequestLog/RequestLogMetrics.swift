package import Telemetry

/// What the request log counts, on the region's `/metrics`: written and dropped records (with why), batch writes
/// that failed, and records purged by retention. Labels are fixed words only.
package struct RequestLogMetrics: Sendable {
    let written: Counter
    /// `reason`: `buffer_full` (the writer is behind or stalled), `shed_read` (a successful read, shed once the buffer
    /// is three quarters full), `write_failed` (a batch failed every attempt),
    /// `tenant_gone` (deleted before its records were written, or its writes fenced here by a move between regions), `settings_unavailable`.
    let dropped: Counter
    let writeFailures: Counter
    let purged: Counter
    let batchSeconds: Histogram
    let encodeSeconds: Histogram

    package init(registry: MetricsRegistry) {
        written = registry.counter("scim_region_request_log_written_total", "Request log records written to the database.")
        dropped = registry.counter("scim_region_request_log_dropped_total",
                                   "Request log records dropped instead of written, by reason (the SCIM request itself was unaffected).",
                                   labels: ["reason"])
        writeFailures = registry.counter("scim_region_request_log_write_failures_total",
                                         "Batch writes of the request log that failed (retried, then dropped).")
        purged = registry.counter("scim_region_request_log_purged_total",
                                  "Request log records deleted by retention, by limit (age or count).", labels: ["limit"])
        batchSeconds = registry.histogram("scim_region_request_log_batch_seconds",
                                          "Time to insert one batch of request log records (the database's part).")
        encodeSeconds = registry.histogram("scim_region_request_log_encode_seconds",
                                           "Time to redact and encode what the writer took from the buffer at once (the writer's own part).")
    }

    /// How many were dropped for `reason` so far.
    package func droppedCount(_ reason: String) -> Int { dropped.value([reason]) }
    /// How many were written so far.
    package var writtenCount: Int { written.value() }
}
