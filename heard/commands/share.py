"""`heard round share ID`: send a round's results to everybody who took part.

Also what `heard round close` calls once the round is closed. Sharing a round twice sends
nothing new unless `--again` is given.
"""

from __future__ import annotations

from typing import Annotated

import typer

from surveys.release import NotYetReleased
from worker.runtime import migrated_runtime
from worker.share import ShareReport
from worker.share import share as share_results


def share(
    round_id: Annotated[int, typer.Argument(help="The round whose results to send.")],
    again: Annotated[bool, typer.Option(
        "--again", help="Send again to people who already got these results.")] = False,
    min_cell: Annotated[int | None, typer.Option(
        help="Fewest people a figure may stand for (default HEARD_SUMMARY_MIN_CELL or 5).",
        min=1)] = None,
) -> ShareReport:
    """Send the round's summary to every participant, in their language, on their channel."""
    current = migrated_runtime()
    try:
        report = share_results(current.database_url, current.redis, round_id, min_cell, again)
    except (LookupError, NotYetReleased) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"round {round_id}: {report.messages} messages queued for {report.sent_to} of "
               f"{report.participants} participants")
    skipped = {"opted out": report.opted_out, "unreachable": report.unreachable,
               "already sent (use --again)": report.already_shared}
    for reason, count in skipped.items():
        if count:
            typer.echo(f"  skipped {count}: {reason}")
    return report
