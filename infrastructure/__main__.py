"""The Pulumi program's entry point: `pulumi up` (in this folder) runs this file.

Pulumi runs it as a script, so the checkout's root is put on `sys.path` first: the
program's modules are then imported as the `infrastructure` package, exactly as the tests
(`tests/infrastructure/`) import them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infrastructure import config
from infrastructure.stack import define_stack

define_stack(config.load())
