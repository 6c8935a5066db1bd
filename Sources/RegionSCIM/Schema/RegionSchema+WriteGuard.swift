import Postgres

/// Migration 11: `scim_write_guard`, the checks of a write's prelude made by the server (`RegionDatabase.write`).
///
/// A write whose tenant settings are cached sends its prelude with its first statement and, since this migration,
/// its COMMIT with its last (a user POST is then one round trip). That is only sound if nothing the client would
/// have to read first can stop the commit, so the two checks the client used to make on the prelude's answers are
/// made here and fail the statement instead: the tenant row, locked `FOR KEY SHARE`, must still have the cached
/// settings version (else the write starts over with fresh settings), and the tenant must not be fenced by a move
/// (`TenantFence`). Each statement of a VOLATILE PL/pgSQL function takes a new snapshot, so the fence is read after
/// the lock is held, exactly as the separate statements did (see migration 9 for why that order matters). The error
/// code `SCW01` means "the prelude did not hold": the region rolls back and runs the write again without
/// speculating, which gives the exact answer (new settings, the move's 503, the tenant's 404).
extension RegionSchema {
    static let v11 = Migration(
        version: 11, name: "write_guard",
        sql: """
            CREATE FUNCTION scim_write_guard(p_tenant uuid, p_version bigint) RETURNS integer
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                PERFORM 1 FROM tenants WHERE id = p_tenant AND settings_version = p_version FOR KEY SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'the write prelude did not hold: tenant settings changed or tenant gone'
                        USING ERRCODE = 'SCW01';
                END IF;
                PERFORM 1 FROM tenant_moves WHERE tenant_id = p_tenant AND state IN ('frozen', 'moved', 'incoming');
                IF FOUND THEN
                    RAISE EXCEPTION 'the write prelude did not hold: the tenant is fenced by a move' USING ERRCODE = 'SCW01';
                END IF;
                RETURN 1;
            END $$;
            """)
}
