"""Measurements about the harness itself rather than about strategies: the gate's
calibration and the fidelity experiment. May import anything.
"""
