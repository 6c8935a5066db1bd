import CLibPQ

/// Warnings the server sends while a statement is being watched (COMMIT: `PostgresConnection.commit`).
///
/// libpq hands notices to a receiver callback from inside the libpq call that read them, and every libpq call on
/// a connection runs under the connection's lock: so this is only ever touched by the thread holding that lock.
/// Notices are not kept otherwise (they may quote data).
final class NoticeCapture: @unchecked Sendable {
    // @unchecked: see above; the receiver and the watcher both run under the connection's lock.
    private var watching = false
    private(set) var warnings: [String?] = []

    /// Starts recording the SQLSTATE of every WARNING.
    func watch() {
        watching = true
        warnings = []
    }

    /// Stops recording; returns what was recorded.
    func stop() -> [String?] {
        watching = false
        defer { warnings = [] }
        return warnings
    }

    /// Installs the receiver on `connection`; `self` must outlive it (the connection's handle owns both).
    func install(on connection: OpaquePointer) {
        PQsetNoticeReceiver(connection, { context, result in
            guard let context, let result else { return }
            let capture = Unmanaged<NoticeCapture>.fromOpaque(context).takeUnretainedValue()
            guard capture.watching else { return }
            // The non-localized severity (PostgreSQL 9.6+) does not depend on lc_messages.
            guard let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))),
                  String(cString: severity) == "WARNING" else { return }
            capture.warnings.append(PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) })
        }, Unmanaged.passUnretained(self).toOpaque())
    }
}
