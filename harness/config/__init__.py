"""What the user asks for: run settings, matrix files, expectations' sizes, input bounds and the
strategy registry. May import ``model`` and the strategy contract; never measures or renders.
"""
