"""memharness: the engine, in folders that follow the flow of a session.

``cli`` parses a command; ``config`` holds what the user asked for; ``plan`` turns it into runs;
``execution`` runs and measures them against the objects ``s3`` prepares; ``results`` writes
and reads what was measured; ``analysis`` judges it; ``views`` shows it. ``model`` holds the
records that cross process and disk boundaries; ``integrations`` and ``experiments`` use the
rest. ``errors``, ``paths`` and ``printable`` are shared by all.
"""
