"""Put the workflow's package (src/) first on sys.path.

Jobs then import ``labeltransfer`` whether or not it is installed in their environment: the
conda environments of envs/ carry the package's dependencies, not the package itself.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
