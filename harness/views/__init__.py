"""Renders results for people and tools: the terminal table and summary, run progress, the
exports and the HTML report. Reads results and analysis; never measures (no ``execution``,
no ``s3``).
"""
