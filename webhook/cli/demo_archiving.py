"""`bangban demo`'s line on 立卷归档 (issue 17 item 5): the demo's archived cases went through the
console's action (webhook/cli/demo.py `_demo_file`); this says where to look, and names a case
ready to be archived so a supervisor can try the completeness check."""
from __future__ import annotations


def summary(sessions) -> str:
    import sqlalchemy as sa

    from bot.models import Case, CaseArchive
    from bot.platform.db import transaction
    from bot.vocabulary import CaseState

    with transaction(sessions) as db:
        archives = db.execute(sa.select(CaseArchive.number, CaseArchive.reason, Case.number)
                              .join(Case, Case.id == CaseArchive.case_id).order_by(CaseArchive.id)).all()
        ready = db.scalar(sa.select(Case.number).where(Case.state == CaseState.RATED, Case.region == "donghu")
                          .order_by(Case.id).limit(1))
    if not archives:
        return "no archived case"
    with_reason = next(((gd, case) for gd, reason, case in archives if reason), None)
    return (f"{len(archives)} cases archived through the completeness check (e.g. {archives[0][2]} → {archives[0][0]})"
            + (f"; {with_reason[1]} archived by its supervisor with a reason" if with_reason else "")
            + (f"; {ready} (已评价) is ready: 「立卷归档…」 on its case page (donghu-lead or its commissioner)" if ready else ""))
