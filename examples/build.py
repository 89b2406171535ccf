"""Build the small example packages the README's examples run against.

    python examples/build.py [DIR]      # default: examples/out (ignored by git)

writes DIR/dist/ with ``example-core`` 1.0.0, 1.1.0, 1.2.0 and 1.3.0 (wheels; the same telemetry DTOs as
``market-data-core``, one change per release) and DIR/store/, a Store project (``example-store``) that
extends them and is configured for the examples: ``cd DIR/store && contract-check --core-ref 1.1.0``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fixturepkgs import PYDANTIC_REQUIREMENT, core_files, write_store_project, write_wheel  # noqa: E402

CORE = "example-core"
RELEASES = {  # version -> what changed (a variant of the test fixtures)
    "1.0.0": "baseline",  # what the Store was built against
    "1.1.0": "queue_size_positive",  # queue_size ge=0 -> gt=0: the Store emits queue_size=0 when drained
    "1.2.0": "optional_field_added",  # an optional field: compatible
    "1.3.0": "enum_value_added",  # BackpressureLevel gained a value: compatible, with a warning
}
CONFIG = """
[tool.contract-check]
core-package = "example-core"
find-links = ["../dist"]
"""


def build(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    for version, variant in RELEASES.items():
        write_wheel(root / "dist", CORE, version, core_files(variant), [PYDANTIC_REQUIREMENT])
    store = write_store_project(root / "store", core_range=">=1.0,<2")
    text = (store / "pyproject.toml").read_text().replace("cc-fixture-store", "example-store")
    text = text.replace("Fake market-data-store for contract-check tests", "The example Store of the README")
    (store / "pyproject.toml").write_text(text.replace("cc-fixture-core", CORE) + CONFIG)
    return root


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out")
    print(f"wrote {out / 'dist'} and {out / 'store'}")
