"""Asset sizes: each function's code and the Powertools layer, zipped the way Lambda gets them.

Run by ``benchmarks/run.py`` as ``python -m benchmarks.assets --out F`` (it imports the library,
and with it aws_cdk, so it gets a process of its own).
"""

from __future__ import annotations

import argparse
import io
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import LAMBDA_SRC, write_json

LAYER_NAME = "powertools_layer"
STAGE_LAYER_NAME = "stage_layer"


def zipped_size(folder: Path) -> int:
    """Bytes of ``folder`` zipped with deflate, in memory, without ``__pycache__`` folders."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if "__pycache__" in relative.parts or not path.is_file():
                continue
            archive.write(path, relative.as_posix())
    return buffer.getbuffer().nbytes


def layer_directory() -> Path:
    """The Powertools layer folder as the library builds it (``python/`` inside)."""
    from serverless_patterns.functions import _powertools_layer_directory

    directory, _hash = _powertools_layer_directory()
    return Path(directory)


def stage_layer_directory() -> Path:
    """The FilterPipeline stage-helper layer folder as the library builds it."""
    from serverless_patterns.filter_pipeline import _stage_layer_directory

    directory, _hash = _stage_layer_directory()
    return Path(directory)


def asset_bytes(*, include_layer: bool = True, layer_copy: Path | None = None) -> dict[str, Any]:
    """``{"assets": {function folder or "powertools_layer": bytes}, "layer_files": count}``.

    With ``layer_copy``, the layer folder is also copied there (it is a temporary folder of
    this process), for :mod:`benchmarks.imports` to import the handlers from it as Lambda does.
    """
    sizes = {
        path.parent.name: zipped_size(path.parent) for path in sorted(LAMBDA_SRC.glob("*/app.py"))
    }
    result: dict[str, Any] = {"assets": sizes}
    if include_layer:
        layer = layer_directory()
        sizes[LAYER_NAME] = zipped_size(layer)
        result["layer_files"] = sum(1 for path in layer.rglob("*") if path.is_file())
        stage_layer = stage_layer_directory()
        sizes[STAGE_LAYER_NAME] = zipped_size(stage_layer)
        if layer_copy is not None:
            # One folder with both layers, as Lambda merges them into /opt/python.
            shutil.copytree(layer, layer_copy, dirs_exist_ok=True)
            shutil.copytree(stage_layer, layer_copy, dirs_exist_ok=True)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer-copy", type=Path, help="also copy the layer folder here")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    write_json(args.out, asset_bytes(layer_copy=args.layer_copy))


if __name__ == "__main__":
    main()
