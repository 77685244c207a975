"""The records that cross a process or disk boundary (a case, a worker's report, a result line)
and the one list of case fields. Standard library only: the measured worker imports it.
"""
