import Scimctl
import Glibc

exit(ScimctlCommand.main())
