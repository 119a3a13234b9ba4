"""A syrupy extension that snapshots templates normalized (:mod:`.snapshots`)::

    from serverless_patterns.testing.syrupy import TemplateSnapshotExtension

    def test_my_stack(snapshot):
        assert my_stack == snapshot.use_extension(TemplateSnapshotExtension)

It takes a ``cdk.Stack`` or a template dict; the snapshot file is the normalized JSON.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from syrupy.extensions.json import JSONSnapshotExtension

from serverless_patterns.testing.snapshots import normalize_template


class TemplateSnapshotExtension(JSONSnapshotExtension):
    def serialize(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, (cdk.Stack, dict)):
            data = normalize_template(data)
        return super().serialize(data, **kwargs)
