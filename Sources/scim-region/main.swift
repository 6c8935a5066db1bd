import Glibc
import RegionApp

exit(RegionCommand.main())
