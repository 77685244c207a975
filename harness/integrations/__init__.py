"""Ways other tools use memharness: the pytest plugin. May import anything public."""
