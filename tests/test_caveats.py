"""Caveats are said where they apply and nowhere else."""

from __future__ import annotations

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.caveats import caveats
from tests.test_report import CAP, MB, run


def test_no_caveat_for_clean_results_on_s3rver() -> None:
    runs = [run("chunked", 250 * MB, 69 * MB, backend="s3rver", repeat=r) for r in range(3)]
    assert caveats(Analysis(runs), {"backend": "s3rver"}) == []


def test_each_caveat_where_it_applies() -> None:
    runs = [
        run("textract-direct", 10 * MB, 87 * MB, throughput_mb_s=None, wall_s=None),
        run("chunked", 10 * MB, 60 * MB, throughput_mb_s=300.0),
        run("chunked", 10 * MB, 60 * MB, throughput_mb_s=600.0, repeat=1),
        run("read-all", 250 * MB, CAP + 20 * MB, cap_enforcement="cgroup-v1"),  # cap: CAP
    ]
    found = caveats(Analysis(runs), {"backend": "moto"})
    assert len(found) == 4
    assert "moto's Textract, which does not read the document" in found[0]
    assert "moto's server reads the whole object" in found[1]
    assert "1 runs peaked above their cgroup limit" in found[2]
    assert "chunked 10MB x1 (67%)" in found[3]
    with_textract = caveats(Analysis(runs), {"textract_endpoint_url": "https://textract.aws"})
    assert not any("moto's Textract" in caveat for caveat in with_textract)
