"""Warm synthesis of AWS Solutions Constructs' ``SqsToLambda``, in its own venv.

``aws-solutions-constructs.aws-sqs-lambda`` pins its own aws-cdk-lib, so it lives in
``benchmarks/.venv-solutions`` (made by ``make bench``) and this module runs there, as
``benchmarks/.venv-solutions/bin/python -m benchmarks.solutions_synth --repeat N
--warmup-synths W --out F``, measured exactly like ``benchmarks.synth_warm``. The QueueWorker
twin is measured in the same rounds: it shows how that venv's aws-cdk-lib compares with the
project's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_solutions_constructs.aws_sqs_lambda import SqsToLambda

from benchmarks import twins
from benchmarks.cdk_common import (
    WARMUP_SYNTHS,
    StackBuilder,
    inline_function,
    measure_warm,
    resource_type_counts,
)
from benchmarks.common import cdk_context, ratio, summarize, write_json

DISTRIBUTION = "aws-solutions-constructs.aws-sqs-lambda"


def _sqs_to_lambda(stack: cdk.Stack) -> None:
    SqsToLambda(stack, "Worker", existing_lambda_obj=inline_function(stack, "Handler"))


def solutions_synth(*, repeat: int, warmup_synths: int = WARMUP_SYNTHS) -> dict[str, Any]:
    """``{"sqs_to_lambda": summary, "queue_worker_twin": summary, "versions": ..., ...}``."""
    builds: dict[str, StackBuilder] = {
        "sqs_to_lambda": _sqs_to_lambda,
        "queue_worker_twin": twins.TWIN_STACKS["QueueWorker"],
    }
    samples, templates = measure_warm(
        builds, repeat=repeat, warmup_synths=warmup_synths, context=cdk_context()
    )
    sqs_to_lambda = summarize(samples["sqs_to_lambda"])
    twin = summarize(samples["queue_worker_twin"])
    return {
        "sqs_to_lambda": sqs_to_lambda,
        "queue_worker_twin": twin,
        "sqs_to_lambda_vs_twin_ratio": ratio(sqs_to_lambda["median"], twin["median"]),
        "sqs_to_lambda_types": resource_type_counts(templates["sqs_to_lambda"]),
        "versions": {
            name: importlib.metadata.version(name) for name in (DISTRIBUTION, "aws-cdk-lib")
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup-synths", type=int, default=WARMUP_SYNTHS)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    write_json(args.out, solutions_synth(repeat=args.repeat, warmup_synths=args.warmup_synths))


if __name__ == "__main__":
    main()
