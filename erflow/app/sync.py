"""sync: pull, then push, under the store lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from erflow.app import transaction
from erflow.app.context import Context, require_actor

if TYPE_CHECKING:
    from erflow.trust.sync import SyncResult


def sync(ctx: Context) -> SyncResult:
    """Pull (ticket files merged by erflow's driver), then push; under the store lock."""
    from erflow.trust import sync as syncing

    require_actor(ctx)
    with transaction.writing(ctx):
        return syncing.sync(ctx.git, ctx.git.git_dir(), ctx.store.root, ctx.author(), ctx.now)
