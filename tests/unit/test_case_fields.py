"""A case's fields are one list (``case_fields.CASE_FIELDS``): a dimension added there, and only
there, is part of the case's identity, its name, the gate's pairing and the results schema.

The dummy dimension is added in a fresh interpreter before anything else is imported, as an edit
of the list would be: the records and the case key take their fields from the list when they are
defined.
"""

from __future__ import annotations

import dataclasses

from memharness_s3.analysis.identity import CaseKey
from memharness_s3.model.case_fields import CASE_FIELDS
from memharness_s3.model.records import Case, RunResult


def test_records_and_the_case_key_have_exactly_the_listed_case_fields() -> None:
    listed = [field.name for field in CASE_FIELDS]
    assert [field.name for field in dataclasses.fields(CaseKey)] == listed
    result_fields = {field.name for field in dataclasses.fields(RunResult)}
    case_fields = {field.name for field in dataclasses.fields(Case)}
    assert set(listed) <= result_fields
    assert {field.name for field in CASE_FIELDS if field.on_case} <= case_fields
    assert {field.name for field in CASE_FIELDS if not field.on_case}.isdisjoint(case_fields)
