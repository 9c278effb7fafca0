"""voicecoach: an offline, private pause-and-check-in assistant for couples."""

import os

__version__ = "0.1.0"

# One BLAS thread, set before numpy loads (numpy reads it once). The detectors multiply small matrices many times a
# second; numpy's OpenBLAS would otherwise start a thread per core, whose hand-offs and spin-waits cost more CPU than
# the work: the live loop took 14.5 % of a core on two cores, 6.5 % with one thread (scripts/measure_loop.py
# --cores 0,1). A Pi 4 has four cores and runs vosk beside it. An explicit setting in the environment still wins.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
