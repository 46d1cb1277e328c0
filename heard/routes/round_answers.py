"""What the rounds API answers (launch, remind, close, share, publish, tokens, summaries),
as typed models: the OpenAPI document says each field, and scripts can rely on it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def examples(*found: dict) -> ConfigDict:
    """A model's examples, shown in /docs and the OpenAPI document."""
    return ConfigDict(json_schema_extra={"examples": list(found)})


class LeftOut(BaseModel):
    not_invited: dict[str, int] = Field(
        description="Contacts a launch would not invite, by why (e.g. \"opted out\")")
    community_hint: str | None = Field(
        description="For a community nobody is in, the nearest one there is")
    quickest_seconds: float = Field(
        description="The least time the invitations can take at HEARD_SMS_PER_SECOND")


class PlanLine(BaseModel):
    """One language and channel of a launch: its counts (and its unit's, e.g. segments,
    typical_segments, longest_segments, reminder_segments) and cost."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int] = Field(init=False)

    language: str
    channel: str
    contacts: int
    messages: int = Field(description="The invitation's messages")
    unit: str = Field(description="What it costs in: segments (SMS) or minutes (calls)")
    invitation: int = Field(description="The invitation, in the unit")
    typical: int = Field(description="The whole conversation along the typical path")
    longest: int = Field(description="The whole conversation along the longest path")
    reminder: int = Field(description="One reminder to everyone of the line")
    cost_typical: float | None
    cost_longest: float | None


class LaunchPlan(LeftOut):
    """A dry run: what a launch would send, and cost."""

    model_config = examples({
        "plan": [{"language": "sw", "channel": "sms", "contacts": 120, "messages": 240,
                  "unit": "segments", "invitation": 240, "typical": 960, "longest": 1320,
                  "reminder": 120, "cost_typical": 9.6, "cost_longest": 13.2,
                  "segments": 240, "typical_segments": 960, "longest_segments": 1320,
                  "reminder_segments": 120}],
        "currency": "USD", "price_per_segment": 0.01, "price_per_call_minute": 0.05,
        "cost_typical": 9.6, "cost_longest": 13.2, "invitation_cost": 2.4,
        "not_invited": {"opted out": 3}, "community_hint": None, "quickest_seconds": 240.0})

    plan: list[PlanLine]
    currency: str
    price_per_segment: float | None
    price_per_call_minute: float | None
    cost_typical: float
    cost_longest: float
    invitation_cost: float


class LaunchQueued(LeftOut):
    """A launch queued as a job."""

    model_config = examples({"queued": True, "contacts": 120, "over_seconds": 7200.0,
                             "not_invited": {}, "community_hint": None,
                             "quickest_seconds": 240.0})

    queued: bool
    contacts: int = Field(description="Contacts it invites")
    over_seconds: float | None = Field(description="The invitations spread over this long")


class Reminded(BaseModel):
    model_config = examples({"reminded": 40, "recently_reminded": 2, "not_started": 30,
                             "part_way": 10})

    reminded: int
    recently_reminded: int = Field(description="Skipped: reminded in the last 20 hours")
    not_started: int = Field(description="Of those reminded: who had answered nothing yet")
    part_way: int = Field(description="Of those reminded: who had begun and stopped")


class Closed(BaseModel):
    model_config = examples({"expired_sessions": 12, "results_queued": 88})

    expired_sessions: int = Field(description="Open sessions that expired with the round")
    results_queued: int = Field(description="Messages of results queued to participants")


class Shared(BaseModel):
    model_config = examples({"round_id": 7, "participants": 100, "sent_to": 95,
                             "messages": 190, "opted_out": 3, "unreachable": 2,
                             "already_shared": 0})

    round_id: int
    participants: int
    sent_to: int
    messages: int
    opted_out: int
    unreachable: int
    already_shared: int = Field(description="Who got these results before (skipped)")


class Published(BaseModel):
    model_config = examples({"url": "https://heard.example.org/results/Zx3..."})

    url: str = Field(description="The public page's address")


class Withdrawn(BaseModel):
    model_config = examples({"withdrawn": True})

    withdrawn: bool = Field(description="Whether the round was public until now")


class NewToken(BaseModel):
    model_config = examples({"token": "hrd_...", "role": "analyst",
                             "expires_at": "2027-03-01T12:00:00+00:00"})

    token: str = Field(description="The token, shown this once")
    role: str
    expires_at: str | None = Field(description="When it stops working (null: until revoked)")


class Stats(BaseModel):
    count: int
    mean: float
    median: float
    min: float | None
    max: float | None


class Figures(BaseModel):
    """A question's figures for one group: null where a figure is hidden (fewer than
    `min_cell` people); keys present only where they apply."""

    respondents: int | None
    counts: dict[str, int | None] | None = Field(
        None, description="People per choice (choice questions)")
    stats: Stats | None = Field(None, description="Number questions' statistics")
    suppressed: list[str] | None = Field(
        None, description="Live figures: the values a release would hide")
    why: dict[str, str] | None = Field(None, description="A release: why each is hidden")


class QuestionFigures(Figures):
    id: str
    type: str
    text: dict[str, str] = Field(description="The question, per language")
    by: dict[str, dict[str, Figures]] = Field(
        description="Per dimension (a profile question, community), per group")


class SummaryFigures(BaseModel):
    model_config = examples({
        "round": 7, "survey": "water-access", "version": 2, "community": "kibera",
        "min_cell": 5, "public": True, "participants": 120, "dimensions": ["gender"],
        "questions": [{"id": "source", "type": "choice", "text": {"en": "Where from?"},
                       "respondents": 118, "counts": {"tap": 80, "well": 38},
                       "why": {}, "by": {"gender": {"female": {"respondents": 60,
                                                            "counts": {"tap": 41,
                                                                       "well": None}}}}}]})

    round: int
    survey: str
    version: int
    community: str | None
    min_cell: int = Field(description="The fewest people a shown figure may stand for")
    public: bool = Field(description="Whether these are the release's figures")
    participants: int | None
    dimensions: list[str]
    questions: list[QuestionFigures]
