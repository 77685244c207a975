"""Size strings: decimal KB/MB/GB, binary KiB/MiB/GiB, and clear errors for anything else."""

from __future__ import annotations

import pytest

from memharness_s3.config.sizes import format_size, parse_size
from memharness_s3.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10MB", 10_000_000),
        ("10mb", 10_000_000),
        ("250 MB", 250_000_000),
        ("2GB", 2_000_000_000),
        ("1.5GB", 1_500_000_000),
        ("8MiB", 8 * 2**20),
        ("2GiB", 2 * 2**30),
        ("64KiB", 65536),
        ("100KB", 100_000),
        ("4096", 4096),
        ("512B", 512),
        ("1TB", 10**12),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["-5MB", "1.5.0GB", "0", "0MB", "", "MB", "10 parsecs", "1e6"])
def test_malformed_sizes_raise_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(250_000_000) == "250 MB"
    assert format_size(2_000_000_000) == "2 GB"
    assert format_size(512) == "512 B"
