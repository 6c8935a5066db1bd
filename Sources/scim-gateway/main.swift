import GatewayApp
import Glibc

exit(GatewayCommand.main())
