"""The examples deployed once into a local emulator with the runtime, for every integration
test module (stopped at the end of the session, pass or fail).

Long waits run on a time scale (``TIME_SCALE``): a visibility timeout of 150 s lasts 2.5 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools import demo, deploy

TIME_SCALE = 60.0


@dataclass(frozen=True)
class Deployed:
    emulator: deploy.Emulator
    reports: dict[str, deploy.StackReport]
    stacks: dict[str, deploy.StackTemplate]
    physical_ids: dict[str, dict[str, str]]
    #: The local legacy inventory's port the LegacyProxyExample was deployed with (nothing
    #: listens there until a test serves it: tools.demo.legacy_inventory(port)).
    legacy_port: int
    #: The cloud assembly that was deployed (a test deploying a stack again reuses it).
    assembly: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.emulator.endpoint,
            region_name=deploy.REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    state_dir = tmp_path_factory.mktemp("emulator")
    assembly = tmp_path_factory.mktemp("cdk.out")
    legacy_port = deploy.free_port()
    context = {"legacy_inventory_url": f"http://127.0.0.1:{legacy_port}"}
    with deploy.emulator_session(state_dir, time_scale=TIME_SCALE) as emulator:
        try:
            reports = deploy.deploy_local(emulator, assembly=assembly, quiet=True, context=context)
        except deploy.DeployError as error:
            pytest.fail(f"local deploy failed: {error}\nemulator log:\n{emulator.log.read_text()}")
        stacks = {stack.stack_name: stack for stack in deploy.synthesized_stacks(assembly)}
        cloudformation = deploy._cloudformation(emulator.env())
        physical_ids = {
            name: {
                summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
                for summary in cloudformation.list_stack_resources(StackName=name)[
                    "StackResourceSummaries"
                ]
                if summary.get("LogicalResourceId")
            }
            for name in stacks
        }
        yield Deployed(
            emulator,
            {r.stack_name: r for r in reports},
            stacks,
            physical_ids,
            legacy_port,
            assembly,
        )


@pytest.fixture(scope="session")
def local(deployed: Deployed) -> demo.Local:
    """Clients of the deployed emulator, with the demo's helpers (where events ended)."""
    return demo.Local(deployed.emulator.endpoint)
