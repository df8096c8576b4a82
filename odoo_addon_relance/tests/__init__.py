from . import test_config
from . import test_run_channels
from . import test_holds
from . import test_security
from . import test_kpi_export
from . import test_journal_window
