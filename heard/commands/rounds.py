"""`heard round ...`: a facilitator's survey rounds, from creation to close."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from heard.commands.common import echo_err, exits_on, runtime_for_cli
from heard.commands.share import share
from surveys import catalog, release
from surveys.airtime import Airtime, AirtimeError, parse_airtime, shown
from surveys.database import session_scope
from surveys.settings import get_settings
from surveys.tables import Round, SurveySession, SurveyVersion
from surveys.validation import SurveyError, load_survey
from worker import rounds
from worker.queues import enqueue_outbound

app = typer.Typer(help="Survey rounds: create, launch, remind, close, status.",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


def _when(value: str | None, option: str) -> datetime | None:
    try:
        return rounds.parse_moment(value, option)
    except rounds.RoundError as error:
        echo_err(str(error))
        raise typer.Exit(2) from None


def _hours(value: str | None) -> list[int]:
    try:
        return rounds.parse_hours(value)
    except rounds.RoundError as error:
        echo_err(f"--remind-after: {error}")
        raise typer.Exit(2) from None


def _airtime(amount: str | None, budget: str | None) -> Airtime | None:
    if amount is None and budget is None:
        return None
    if amount is None:
        echo_err("--airtime-budget: give --airtime too, e.g. --airtime 'KES 10'")
        raise typer.Exit(2)
    try:
        return parse_airtime(amount, budget)
    except AirtimeError as error:
        echo_err(f"--airtime: {error}")
        raise typer.Exit(2) from None


@app.command()
def create(
    survey: Path = typer.Option(..., help="Survey YAML file (stored as an immutable version)."),
    community: str | None = typer.Option(None, help="Community to invite (default: everyone)."),
    opens: str | None = typer.Option(None, help="When the round opens (ISO datetime)."),
    closes: str | None = typer.Option(None, help="When the round closes (ISO datetime)."),
    remind_after: str | None = typer.Option(
        None, help="Remind the unfinished this many hours after their invitation, e.g. 24,72 "
                   "(each once per person; sent by heard cron)."),
    language: list[str] = typer.Option(  # noqa: B008 - typer's repeatable option
        [], help="Invite only people of this language (repeatable; code or name)."),
    channel: list[str] = typer.Option(  # noqa: B008
        [], help="Invite only people on this channel (repeatable), e.g. sms."),
    profile: list[str] = typer.Option(  # noqa: B008
        [], help="Invite only people with these profile values (repeatable; all must hold), "
                 "e.g. gender=female or village=kibera,soweto."),
    ussd_continue: str = typer.Option(
        "ussd", help="A USSD session that timed out goes on when the person dials again (ussd) or "
             "at once by SMS (sms)."),

    airtime: str | None = typer.Option(
        None, help="Thank each who completes with this airtime through Africa's Talking, "
                   "e.g. 'KES 10' (once per person; needs --airtime-budget)."),
    airtime_budget: str | None = typer.Option(
        None, help="The most the round's airtime may cost in all, e.g. 5000 (in the "
                   "airtime's currency): once reached, no more top-ups are sent."),
) -> None:
    """Create a round (for its community, or only some of its people: --language, --channel,
    --profile); prints its id, SMS join keyword and Telegram deep link."""
    try:
        definition = load_survey(survey)
    except SurveyError as error:
        echo_err(str(error))
        raise typer.Exit(1) from None
    opens_at, closes_at = _when(opens, "--opens"), _when(closes, "--closes")
    hours = _hours(remind_after)
    if ussd_continue not in rounds.USSD_CONTINUE:
        echo_err(f"--ussd-continue: {ussd_continue!r} is not one of "
                 f"{', '.join(rounds.USSD_CONTINUE)}")
        raise typer.Exit(1)

    thanks = _airtime(airtime, airtime_budget)
    with session_scope(runtime_for_cli().database_url) as db, exits_on(rounds.RoundError):
        row = catalog.register(db, definition)
        target = rounds.target_for(db, definition, language, channel,
                                   rounds.parse_profile_values(profile))
        round_ = rounds.create_round(db, row, community, opens_at, closes_at, hours, target,
                                     ussd_continue, thanks)  # type: ignore[arg-type]
        typer.echo(f"round {round_.id}: {row.survey_id} v{row.version}, community "
                   f"{community or '(everyone)'}" + (f", only {target.described()}"
                                                     if target else ""))
        typer.echo(f"  join by SMS: text {round_.code}")
        if ussd_continue != "ussd":
            typer.echo(f"  a USSD session that times out goes on by {ussd_continue}")

        if thanks:
            typer.echo(f"  airtime: {shown(thanks.currency, thanks.amount)} to each who "
                       f"completes, {shown(thanks.currency, thanks.budget)} in all")
        typer.echo(f"  join on Telegram: https://t.me/{get_settings().telegram_bot_username}"
                   f"?start={round_.code}")


@app.command()
def launch(
    round_id: int = typer.Argument(..., metavar="ID"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count messages and cost."),
    price_per_segment: float | None = typer.Option(
        None, help="SMS price per segment (default HEARD_PRICE_PER_SEGMENT)."),
    over: str | None = typer.Option(
        None, help="Spread the invitations evenly over this long, e.g. 2h or 90m (default: "
                   "as fast as HEARD_SMS_PER_SECOND allows)."),
) -> None:
    """Invite every consented, reachable contact of the round's community."""
    current = runtime_for_cli()
    with session_scope(current.database_url) as db, exits_on(rounds.RoundError):
        span = rounds.parse_span(over) if over is not None else None
        plan = rounds.plan_launch(db, round_id)
    notice = plan.left_out_notice()
    quickest = plan.quickest(get_settings().sms_per_second)
    if dry_run:
        _print_plan(plan, price_per_segment)
        if notice:
            typer.echo(notice)
        typer.echo(f"sending takes at least {_span(quickest)} at HEARD_SMS_PER_SECOND="
                   f"{get_settings().sms_per_second:g}")
        return
    total = plan.total("contacts")
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("queueing invitations", total=total)
        with exits_on(rounds.RoundError):
            invited = rounds.launch(current.database_url, current.redis, round_id,
                                    enqueue_outbound, lambda n: progress.advance(task, n),
                                    over=span)
    typer.echo(f"round {round_id}: {invited} invitations queued"
               + (f", spread over {_span(span)}" if span else ""))
    if span is not None and quickest > span:
        typer.echo(f"  at HEARD_SMS_PER_SECOND={get_settings().sms_per_second:g} they take "
                   f"{_span(quickest)}, longer than {_span(span)}: raise the limit if Twilio "
                   f"allows it")
    if notice:
        typer.echo(f"  {notice}")


def _span(span: timedelta) -> str:
    """A length of time as a facilitator reads it: 2 h 05 min, 12 min, 40 s."""
    seconds = round(span.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def _print_plan(plan: rounds.Plan, price: float | None) -> None:
    """Per language and channel: the invitation, then the whole conversation along the typical
    and the longest path (with re-asked questions and the closing), and each reminder; SMS in
    segments, calls in minutes, both in money; other channels in messages (the figures:
    rounds.Plan.lines)."""
    settings = get_settings()
    prices = rounds.prices_of(settings, price)
    table = Table("language", "channel", "contacts", "invitation", "whole conversation",
                  f"est. cost ({settings.currency})", "per reminder")
    for line in plan.lines(prices):
        unit = line.unit
        spans = (f"{line.typical}–{line.longest} {unit}" if line.typical != line.longest
                 else f"{line.typical} {unit}")
        cost = ("-" if line.cost_typical is None or line.cost_longest is None
                else f"{line.cost_typical:.2f}–{line.cost_longest:.2f}")
        table.add_row(line.language, line.channel, str(line.contacts),
                      f"{line.invitation} {unit}", spans, cost, f"{line.reminder} {unit}")
    low, high = plan.cost(prices)
    table.add_row("total", "", str(plan.total("contacts")), "", "", f"{low:.2f}–{high:.2f}", "")
    console.print(table)
    console.print(f"invitation cost {plan.invitation_cost(prices):.2f} {settings.currency}; "
                  "results messages are not included (their length depends on the answers)")


@app.command()
def remind(
    round_id: int = typer.Argument(..., metavar="ID"),
    again: bool = typer.Option(False, "--again", help="Remind those reminded lately too."),
    who: str = typer.Option("all", help="all, not-started (answered nothing yet) or part-way "
                                        "(began and stopped)."),
) -> None:
    """Remind everyone invited who has not finished (never the opted-out; not twice within
    20 hours unless --again)."""
    current = runtime_for_cli()
    with exits_on(rounds.RoundError):
        done = rounds.remind(current.database_url, current.redis, round_id, enqueue_outbound,
                             again=again, who=who)
    typer.echo(f"round {round_id}: {done.reminded} reminders queued ({done.not_started} not "
               f"started, {done.part_way} part-way through)")
    if done.recently_reminded:
        typer.echo(f"  skipped {done.recently_reminded}: reminded within the last 20 hours "
                   f"(use --again)")


@app.command()
def close(round_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close the round: open sessions expire."""
    with session_scope(runtime_for_cli().database_url) as db, exits_on(rounds.RoundError):
        expired = rounds.close_round(db, round_id)
    typer.echo(f"round {round_id} closed; {expired} unfinished sessions expired")
    share(round_id)  # the community gets the results back


@app.command()
def publish(round_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Make the round's results public (its one audited release) and print the address."""
    with session_scope(runtime_for_cli().database_url) as db, \
            exits_on(LookupError, release.NotYetReleased):
        path = release.publish(db, round_id)
    typer.echo(f"round {round_id} published: {get_settings().public_base_url.rstrip('/')}{path}")


@app.command()
def unpublish(round_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Withdraw the round's public page; publishing again gives it a new address."""
    with session_scope(runtime_for_cli().database_url) as db, exits_on(LookupError):
        was_public = release.unpublish(db, round_id)
    typer.echo(f"round {round_id}: public page withdrawn" if was_public
               else f"round {round_id} was not published")


@app.command()
def status(round_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Invited, started, completed, opted out: in total and by language and channel."""
    with session_scope(runtime_for_cli().database_url) as db, exits_on(rounds.RoundError):
        report = rounds.round_status(db, round_id)
    console.print(f"round {report.round_id}: {report.survey}, community "
                  f"{report.community or '(everyone)'}, {report.status}, code {report.code}")
    columns = ("invited", "started", "completed", "opted_out", "declined")
    table = Table("language", "channel", *columns)
    for (language, channel), counts in sorted(report.by_group.items()):
        table.add_row(language, channel, *(str(counts[name]) for name in columns))
    table.add_row("total", "", *(str(report.totals[name]) for name in columns))
    console.print(table)
    segments, calls, settings = report.segments, report.calls, get_settings()
    if segments["typical"] or segments["spent"]:
        console.print(f"SMS segments: estimated {segments['typical']}–{segments['longest']} "
                      f"for the people invited, spent {segments['spent']} "
                      f"({segments['spent'] * settings.price_per_segment:.2f} "
                      f"{settings.currency})")
    if calls["typical"] or calls["made"]:
        console.print(f"calls: estimated {calls['typical']}–{calls['longest']} minutes for the "
                      f"people invited; {calls['made']} made, {calls['answered']} answered, "
                      f"{calls['unanswered']} not answered; {calls['minutes']} minutes "
                      f"({calls['minutes'] * settings.price_per_call_minute:.2f} "
                      f"{settings.currency})")
    if report.failures:
        console.print("messages not delivered: " + ", ".join(
            f"{number} on {channel} (error {code})"
            for (channel, code), number in sorted(report.failures.items())))
    if report.airtime:
        console.print(report.airtime.described())


@app.command("list")
def list_rounds() -> None:
    """Every round, newest first."""
    with session_scope(runtime_for_cli().database_url) as db:
        rows = db.execute(select(Round, SurveyVersion.survey_id, SurveyVersion.version)
                          .join(SurveyVersion, SurveyVersion.id == Round.survey_pk)
                          .order_by(Round.id.desc())).all()
        sessions = dict(db.execute(select(SurveySession.round_id, func.count())
                                   .group_by(SurveySession.round_id)).all())
    table = Table("id", "survey", "community", "status", "code", "sessions", "created")
    for round_, survey_id, version in rows:
        table.add_row(str(round_.id), f"{survey_id} v{version}", round_.community or "",
                      round_.status, round_.code or "", str(sessions.get(round_.id, 0)),
                      round_.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


app.command("share")(share)
