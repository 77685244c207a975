"""Where the objects come from and how they get there: launched or given backends, fault
injection, fixture PDFs and their cache, prepared and verified objects, the wire yardstick.
May import ``config`` and ``model``; never imports ``views``.
"""
