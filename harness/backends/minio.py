"""MinIO launched by the harness when a ``minio`` binary is on PATH.

MinIO is the S3 server closest to AWS's behaviour (multipart ETags, checksums, copy limits), so
it is the better local stand-in when it is installed; the harness never downloads it. Its root
user is set to fixed values, which are the credentials its clients use. Its web console is bound
to a second free port on 127.0.0.1 so that nothing listens on other interfaces.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from memharness_s3.errors import RunFailed
from memharness_s3.s3.backends.launcher import HOST, ServerSpec, free_port

ROOT_USER = "memharness-minio"
ROOT_PASSWORD = "memharness-minio-secret"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": ROOT_USER, "AWS_SECRET_ACCESS_KEY": ROOT_PASSWORD}


def spec() -> ServerSpec:
    """The launch spec for the ``minio`` on PATH; RunFailed if there is none."""
    binary = shutil.which("minio")
    if binary is None:
        raise RunFailed(
            "minio backend: no `minio` binary on PATH; install MinIO or use "
            "--backend endpoint --endpoint-url URL"
        )

    def argv(port: int, data_dir: Path | None) -> list[str]:
        assert data_dir is not None
        return [
            binary,
            *("server", str(data_dir)),
            *("--address", f"{HOST}:{port}"),
            *("--console-address", f"{HOST}:{free_port()}"),
        ]

    return ServerSpec(
        name="minio",
        argv=argv,
        credentials=CREDENTIALS,
        health_path="/minio/health/live",
        env={"MINIO_ROOT_USER": ROOT_USER, "MINIO_ROOT_PASSWORD": ROOT_PASSWORD},
        needs_data_dir=True,
    )
