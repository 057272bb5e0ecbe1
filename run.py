#!/usr/bin/env python3
"""Cluster simulator for 3700kvstore replicas: ``./run.py CONFIG`` (``--help``).

The simulator is the package ``simulator/`` beside this file; what it does
is described in docs/simulator.md.  Standard library only; Python 3.9+.
"""

import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
