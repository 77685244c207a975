"""memharness: the engine, in folders that follow the flow of a session.

``cli`` parses a command; ``config`` holds what the user asked for; ``plan`` turns it into runs;
``execution`` runs and measures them against the objects ``s3`` prepares; ``results`` writes
and reads what was measured; ``analysis`` judges it; ``views`` shows it. ``model`` holds the
records that cross process and disk boundaries; ``integrations`` and ``experiments`` use the
rest. ``errors``, ``paths`` and ``printable`` are shared by all.
"""

import time

LOADED_AT = time.monotonic()
"""When this process first imported memharness (``time.monotonic``): where a command's wall time
starts, a few tens of milliseconds after the interpreter did. Not the process's own start time
(``/proc/PID/stat``), which is its fork: a shell that execs its last command, as ``bash -c '...
&& memharness run'`` does, dates that back to the start of the whole line (measured: 31.5 s of
wall reported for a run of about 17 s after a 14 s install)."""
