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
(``/proc/PID/stat``), which is its fork: bash execs the last command of ``bash -c 'a && b'`` in
its own process, so that dates back to the start of the whole line (``bash -c "sleep 5 &&
memharness run"``: 18.7 s of wall reported that way, 13.5 s this way)."""
