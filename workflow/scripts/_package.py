"""Prepare a job's Python process: the workflow's package (src/) first on sys.path, and OpenMP's
waiting threads asleep.

Jobs then import ``labeltransfer`` whether or not it is installed in their environment: the
conda environments of envs/ carry the package's dependencies, not the package itself. Every
script imports this module first, before any OpenMP runtime (XGBoost's, PyTorch's) loads and
reads its wait policy.
"""

import os
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

# A thread that waits for the others sleeps instead of spinning: on a machine where something
# else runs, spinning threads take the cores the job's working threads wait for (XGBoost's training
# ran three times slower with one core busy; bench/busy_machine.py: 75 s instead of 126 busy, 45
# instead of 39 idle). A policy the user set is kept (OMP_WAIT_POLICY=ACTIVE: spin on an idle machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
