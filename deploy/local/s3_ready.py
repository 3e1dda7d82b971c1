"""Wait until the local S3 (SeaweedFS) accepts authenticated requests and can create a bucket.

SeaweedFS answers HTTP well before it can allocate volumes for a new bucket, so the
only honest readiness check is creating one. Used by infra.sh; reads the S3_* variables
of deploy/local/env from the environment.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BUCKET = "gamekeys-readiness"


def main() -> int:
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
        ),
    )
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            s3.create_bucket(Bucket=BUCKET)
            return 0
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return 0
            last = exc
        except BotoCoreError as exc:
            last = exc
        time.sleep(0.5)
    print(f"s3_ready: no bucket could be created within {timeout:.0f}s: {last!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
