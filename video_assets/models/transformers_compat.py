"""Names that pinned remote code imports from places newer transformers moved them out of.

Cosmos-Embed1's code does ``from transformers.modeling_utils import
apply_chunking_to_forward``; transformers 4.57 dropped that re-export (the function
lives in ``transformers.pytorch_utils``), so the import fails on 4.57+ (5.x
included). We cannot edit the pinned code without breaking its hashes, so before
loading it we put the name back where it expects it. Only a missing name is
added; nothing that transformers defines is replaced.
"""

from __future__ import annotations

import importlib
import logging

logger = logging.getLogger(__name__)

# (module the remote code imports from, name, module that defines it now)
MOVED_NAMES: tuple[tuple[str, str, str], ...] = (
    ("transformers.modeling_utils", "apply_chunking_to_forward", "transformers.pytorch_utils"),
)


def install_remote_code_shims() -> list[str]:
    """Re-export each moved name where old remote code looks for it, if it is missing there.

    Returns the ``module.name`` entries added by this call (empty when nothing was missing,
    e.g. on transformers < 4.57 or when already installed). Safe to call repeatedly.
    """
    added: list[str] = []
    for old_module_name, name, new_module_name in MOVED_NAMES:
        old_module = importlib.import_module(old_module_name)
        if hasattr(old_module, name):
            continue
        value = getattr(importlib.import_module(new_module_name), name)
        setattr(old_module, name, value)
        added.append(f"{old_module_name}.{name}")
        logger.info("re-exported %s.%s as %s.%s for pinned remote code", new_module_name, name, old_module_name, name)
    return added
