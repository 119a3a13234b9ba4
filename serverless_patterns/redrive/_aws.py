"""Where the redrive talks to: a boto3 session with credentials, or the local emulator.

boto3 is not a dependency of the library (``pip install 'serverless-patterns[ops]'``): it is
imported here, on first use, and its absence is a one-line message, not a traceback.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: A boto3 client. The project has no boto3 type stubs: clients are untyped.
Client = Any

PROG = "serverless-patterns redrive"
LOCAL_ENDPOINT = "http://localhost:5000"
#: The emulator's region and the dummy credentials it accepts (tools/deploy.py's).
LOCAL_REGION = "us-east-1"
DUMMY_KEY = "testing"

NO_BOTO3 = f"{PROG} needs boto3: pip install 'serverless-patterns[ops]'"
NO_CREDENTIALS = (
    f"{PROG}: no AWS credentials found. Give some (AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    f"AWS_SECRET_ACCESS_KEY, or aws sso login), or point at the local emulator with "
    f"--endpoint-url {LOCAL_ENDPOINT} (use localhost, not 127.0.0.1)."
)


class UsageError(Exception):
    """Something the operator must fix (printed as one line, exit status 2)."""


def require_boto3() -> None:
    try:
        importlib.import_module("boto3")
    except ImportError:
        raise UsageError(NO_BOTO3) from None


def region_of_queue_url(url: str | None) -> str | None:
    """The region in an SQS queue URL (``https://sqs.eu-west-1.amazonaws.com/...``)."""
    match = re.match(r"https?://(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)[./]", url or "")
    return match.group(1) if match else None


@dataclass
class Aws:
    """Clients of one account and region: AWS's, or the emulator's at ``endpoint_url``."""

    session: Any
    region: str
    endpoint_url: str | None
    #: Clients to use instead of boto3's, by service name (tests record calls with them).
    overrides: Mapping[str, Client] = field(default_factory=dict)
    _clients: dict[str, Client] = field(default_factory=dict)

    def client(self, service: str) -> Client:
        if service in self.overrides:
            return self.overrides[service]
        if service not in self._clients:
            from botocore.config import Config  # type: ignore[import-untyped]

            self._clients[service] = self.session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 3}),
            )
        return self._clients[service]

    @property
    def where(self) -> str:
        return f"the endpoint {self.endpoint_url}" if self.endpoint_url else f"AWS ({self.region})"


def connect(
    *,
    endpoint_url: str | None,
    region: str | None,
    queue_url: str | None = None,
    overrides: Mapping[str, Client] | None = None,
) -> Aws:
    """A session with credentials, or UsageError saying how to give some.

    Against an endpoint (``--endpoint-url`` or ``AWS_ENDPOINT_URL``, the local emulator) without
    credentials, dummy ones are used: the emulator accepts any. Against AWS, nothing is read
    before credentials resolve.
    """
    require_boto3()
    import boto3  # type: ignore[import-untyped]
    import botocore.exceptions  # type: ignore[import-untyped]

    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    try:
        session = boto3.Session(region_name=region)
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as error:  # ProfileNotFound, a broken config file
        raise UsageError(f"{PROG}: the AWS configuration cannot be read: {error}") from None
    if credentials is None:
        if endpoint is None:
            raise UsageError(NO_CREDENTIALS)
        session = boto3.Session(
            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region
        )
    chosen = (
        region
        or session.region_name
        or region_of_queue_url(queue_url)
        or (LOCAL_REGION if endpoint else None)
    )
    if not chosen:
        raise UsageError(f"{PROG}: no region: give --region (or set AWS_REGION)")
    return Aws(session=session, region=chosen, endpoint_url=endpoint, overrides=overrides or {})
