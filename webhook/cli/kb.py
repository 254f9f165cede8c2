"""bangban kb: the curator's tools (check, build, coverage, stats, gaps)."""
from __future__ import annotations

from bot.platform.config import load_settings

from .startup import PACKAGES, compile_packages


def cmd_kb_check(args) -> int:
    from knowledge import check

    problems = check()
    if problems:
        print(f"{len(problems.lines)} problem(s) in the knowledge base:")
        for line in problems.lines:
            print("  - " + line)
        return 1
    print("knowledge base OK")
    return 0


def cmd_kb_build(args) -> int:
    """Build the knowledge-base index into the cache now (a deploy step), so that workers start fast."""
    import time

    from knowledge.cache import digest, load_retriever

    settings = load_settings()
    if not settings.kb_cache_dir:
        print("BANGBAN_CACHE_DIR=off: nothing to build into")
        return 1
    t0 = time.perf_counter()
    r = load_retriever(settings.kb_cache_dir)
    print(f"knowledge index {digest()} ready in {settings.kb_cache_dir} ({time.perf_counter() - t0:.1f} s; "
          f"{len(r.topics)} topics, classifier {'on' if r.classifier else 'off'})")
    if not compile_packages():
        print("bytecode: some modules did not compile (see above)")
        return 1
    print(f"bytecode of {', '.join(PACKAGES)} up to date")
    return 0


def cmd_kb_coverage(args) -> int:
    from knowledge import coverage, load

    kb = load()
    for line in coverage.report(kb):
        print(line)
    return 1 if coverage.check(kb) else 0


def cmd_kb_stats(args) -> int:
    from collections import Counter

    from knowledge import load

    kb = load()
    regions = Counter(e.region for e in kb.entries)
    print(f"entries: {len(kb.entries)}  topics: {len(kb.topics)}  "
          f"questions: {sum(len(e.questions) for e in kb.entries)}")
    print(f"regions: {len(kb.regions)}  stages: {len(kb.stages)}  approval items: {len(kb.items)}")
    print("entries by region: " + ", ".join(f"{r} {n}" for r, n in sorted(regions.items())))
    print(f"general national guidance: {sum(e.general_guidance for e in kb.entries)} entries")
    reviewed = sorted(e.reviewed for e in kb.entries if e.reviewed)
    if reviewed:
        print(f"last reviewed: oldest {reviewed[0]}, newest {reviewed[-1]}")
    return 0


def cmd_kb_gaps(args) -> int:
    from bot.platform.db import open_database, transaction
    from bot.supervision import kb_log

    with transaction(open_database(load_settings().database_url)) as db:
        gaps = kb_log.gaps(db, limit=args.limit)
    if not gaps:
        print("no unanswered questions recorded")
        return 0
    from bot.platform.text_safety import terminal_safe

    print("times  last asked (Beijing)  question  (best guess)")
    for g in gaps:  # what anyone typed: shown, never obeyed by the curator's terminal
        print(f"{g.times:5d}  {g.last_asked:<20}  {terminal_safe(g.question)}  ({terminal_safe(g.best_guess or '-')})")
    return 0


def register(sub) -> None:
    kb = sub.add_parser("kb", help="knowledge base tools").add_subparsers(dest="kb_command", required=True)
    kb.add_parser("check", help="validate every entry").set_defaults(func=cmd_kb_check)
    kb.add_parser("stats", help="counts").set_defaults(func=cmd_kb_stats)
    kb.add_parser("build", help="build the index into BANGBAN_CACHE_DIR now (deploy step)").set_defaults(func=cmd_kb_build)
    kb.add_parser("coverage", help="seed clauses and the entries that answer them; lists the uncovered ones") \
        .set_defaults(func=cmd_kb_coverage)
    s = kb.add_parser("gaps", help="questions the bot could not answer, most frequent first")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_kb_gaps)
