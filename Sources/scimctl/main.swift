import GatewayApp
import Glibc

exit(ScimctlCommand.main())
