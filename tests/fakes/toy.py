#!/usr/bin/env python3
"""A correct toy replica: 0000 leads, the others redirect to it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

if __name__ == "__main__":
    fakelib.main(fakelib.ToyReplica)
