"""wsgi.py under cProfile, for finding where a benchmark's server time goes (bench/relay.py).

    PROFILE_OUT=/tmp/server.prof python bench/profiled_server.py   # environment as for wsgi.py
The profile is written when the process gets SIGTERM (Server.stop()). Not used by `make bench`.
"""

import cProfile
import os
import runpy
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
profile = cProfile.Profile()


def _stop(*_args):
    profile.disable()
    profile.dump_stats(os.environ.get("PROFILE_OUT", "server.prof"))
    os._exit(0)


signal.signal(signal.SIGTERM, _stop)
profile.enable()
runpy.run_path(str(ROOT / "wsgi.py"), run_name="__main__")
