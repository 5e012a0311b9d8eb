"""Local stack without Docker: the real Lambda handlers on this machine, against moto (server mode) and the sandboxes.

Resources (tables, queues, functions, events, environment) are READ from template.yaml, never declared twice.
Entry points: ``python -m local_stack up`` and ``python -m local_stack demo``; in code, :class:`LocalStack`.
Nothing here is deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

__all__ = ["LocalStack"]


def __getattr__(name: str) -> Any:  # lazy, so `import local_stack.template` stays light
    if name == "LocalStack":
        from local_stack.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
