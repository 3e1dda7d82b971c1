"""The reports, each one function: who asks has been checked by the caller (the public views
from the token and the studio projection, the internal ones from the service scope)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from analytics.db import hourly, projection
from analytics.db import reports as raw
from analytics.db.clickhouse import ClickHouse
from analytics.domain.reports import ActivationReport, Period, Summary


def _activations(period: Period):
    """The hourly aggregate when the period's local days are runs of whole UTC hours, the raw
    events otherwise (a part-hour offset): the same figures."""
    return hourly if period.in_whole_utc_hours() else raw


def activation_report(ch: ClickHouse, game_id: uuid.UUID, period: Period) -> ActivationReport:
    rows = _activations(period).activations_by_day_and_country(ch, game_id, period)
    return ActivationReport.build(game_id, period, rows)


def summary(
    ch: ClickHouse, session: Session, developer_ids: list[uuid.UUID] | None, period: Period
) -> Summary:
    """Figures of the games of ``developer_ids`` (every game when None)."""
    games = projection.games_of(session, developer_ids)
    game_ids = None if developer_ids is None else [game.game_id for game in games]
    single = developer_ids[0] if developer_ids is not None and len(developer_ids) == 1 else None
    return Summary.build(
        single,
        period,
        games,
        _activations(period).activations_by_game(ch, game_ids, period),
        raw.keys_generated(ch, game_ids, period),
    )
