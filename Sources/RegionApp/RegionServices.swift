#if canImport(Glibc)
import Glibc
#endif
import NetIO
import Postgres
import RegionLink
import ServerRuntime
import Synchronization
import Telemetry
import Lifecycle
import RegionSCIM
import RegionEvents

