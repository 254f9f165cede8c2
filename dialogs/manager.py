"""One turn of the conversation: load state → understand → decide → act → save.

The webhook, `bangban ask` and `bangban chat` all come through `DialogManager.handle_text`, so
what a test sees on the command line is what a WeChat user gets.
"""
from __future__ import annotations

import copy
import logging
import time

from sqlalchemy import exc as sa_exc

from bot.casework import cases
from bot.people import users
from bot.platform import clock
from bot.platform.db import transaction
from bot.platform.kv import StoreUnavailable
from bot.supervision import kb_log
from knowledge import Result

from . import texts
from .actions.application import EDITABLE, prompt
from .actions.rating import ActionRating, rating_turn
from .actions.service import ActionAcceptCase, ActionCaseProgress, ActionOneTimeNotice, ActionUrge
from .case_details import CaseDetailsDialog
from .appointments import AppointmentDialog
from .completion import CompletionDialog
from .context import bare_aspect, follow_up_subject, item_names, rewrite
from .events import Events
from .forms import ApplicationForm, run_action
from .handoff import REGION_KEY, HandoffDialog
from .nlu import (
    Understanding,
    asks_about_own_case,
    asks_amount,
    asks_next_step,
    done_then,
    figure_asked,
    figure_missing,
    flow_chain_texts,
    flow_chains,
    flow_lines,
    from_pinyin,
    handoff_question,
    is_only_a_name,
    is_question,
    is_short,
    kb_form,
    mentions_correction,
    option_named,
    ordinal,
    ordinal_inside,
    points_back,
    question_word_in,
    says_only_where,
    says_where_a_company_is_from,
    split_questions,
    tells_without_asking,
    understand,
    understand_by_rules,
    without_preamble,
    without_names,
)
from .paging import split_pages
from .place_names import PlaceNames
from .services import Services
from .state import earlier_reply, remember_reply
from .turn import Turn

log = logging.getLogger(__name__)

PROFILE_REFRESH_S = 300
# Topics that answer honestly that nobody publishes the answer (fee amounts, a person's phone):
# the question is still what 转人工 hands over.
NO_PUBLISHED_ANSWER = "无公开答案"
_SERVICE_WORDS = ("帮代办", "帮办代办", "帮办", "代办")
# An answer tagged so is a flow of steps (「第二步呢」「受理以后呢」 read its lines); the service flow
# is where 「申请了之后呢」 goes after an answer that only listed things.
FLOW_TAGS = {"步骤", "五步工作法"}
PROCESS_TOPIC = "service.process"
PROFILE_RETRY_S = 30  # with the database away, try the profile again this soon
# The database cannot be reached (refused, reset, timed out): SQLAlchemy's OperationalError and
# InterfaceError wrap exactly those DBAPI errors; a bug (IntegrityError, ProgrammingError) is not one.
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError)
# Moves that only make sense with the conversation's memory (an open form, menu or long answer).
NEEDS_STATE = {"apply", "apply_bangban", "apply_daiban", "select", "more", "edit", "cancel", "other_region"}


OTHER_REGIONS_TOPIC = "noanswer.other_regions"  # 「只收录五个地区」


class DialogManager:
    def __init__(self, services: Services):
        """The manager on `services` (dialogs/services.py): its actions are built here on them, so
        two managers in one process each run on their own."""
        self.services = services
        self.kb = kb = services.kb
        self.settings = services.settings
        self.contacts = self.settings.contacts
        self.retriever = services.retriever
        self.store = services.store
        self.sessions = sessions = services.sessions
        self.query_log = kb_log.QueryLog(sessions)
        self.form = ApplicationForm(services)
        self.rating = ActionRating(services)
        self.service_actions = {"progress": ActionCaseProgress(services), "urge": ActionUrge(services),
                                "notice": ActionOneTimeNotice(services), "accept_case": ActionAcceptCase(services)}
        self._item_names = item_names(kb)
        self.handoff = HandoffDialog(kb, sessions, self.settings)
        self.case_details = CaseDetailsDialog(sessions, self.settings)
        self.completion = CompletionDialog(sessions, self.settings)  # 确认办结, 已收到材料 (issue 17)
        self.appointments = AppointmentDialog(sessions, self.settings)  # 确认预约, 改个时间, 我的预约 (issue 17)
        self.events = Events(self)  # menu clicks, QR code scans, video and location (events.py)
        self.place_names = PlaceNames(kb, self.settings.region_names)
        # Every region's names, longest first within each (江北区 before 江北), as nlu's place readings take them.
        self._region_names = [name for r in kb.regions.values() for name in sorted(r.names, key=len, reverse=True)]

    def warm(self) -> None:
        """Load jieba's dictionary and the intent model now, not on the first user's message."""
        from . import intent_model

        self.retriever.warm()
        intent_model.load()

    # -- entry points ---------------------------------------------------------------------

    def handle_text(self, user: str, text: str, message_id: str | None = None) -> Turn:
        """The reply to one message. With `message_id` (WeChat's MsgId), a second delivery of the
        same message gets the first reply again and nothing is done twice."""
        turn = None
        try:
            with self.store.session(user) as state:
                if message_id is not None and (earlier := earlier_reply(state, message_id)) is not None:
                    return Turn(earlier, "repeat")
                before = copy.deepcopy(state)
                try:
                    turn = self._turn(user, text, state)
                except DATABASE_DOWN:
                    # Nothing of this turn happened: keep the conversation as it was (a half-filled
                    # form stays at its question, 「确认」 can be sent again) and say so.
                    log.warning("database unavailable: turn not taken", exc_info=True)
                    state.clear()
                    state.update(before)
                    return Turn(texts.DB_DOWN_IN_FORM if "form" in before else texts.DB_DOWN, "unavailable")
                if message_id is not None:
                    remember_reply(state, message_id, turn.reply)
        except StoreUnavailable:
            if turn is not None:  # decided (and acted on) before the store failed: never run it twice
                log.warning("conversation store failed while saving: this turn's state is not kept")
                return turn
            log.warning("conversation store unavailable: answering without conversation state")
            return self._stateless_turn(user, text)
        return turn

    def _turn(self, user: str, text: str, state: dict, stateless: bool = False) -> Turn:
        # While the conversation awaits an answer (a form slot, a rating, the question for 转人工),
        # replies like 「无」「没有」 are answers, which the rules read exactly.
        answering = any(k in state for k in ("form", "rating", "awaiting_handoff", REGION_KEY))
        if not answering:  # (an answer, a company's name, is kept as typed)
            text = from_pinyin(text)  # 「jiangbei bangdaiban keyi shangmen ma」
        u = understand(text, in_form=answering)
        if u.intent == "more" and not state.get("pages"):
            # Nothing more to show: 「全部」 at the items question is the form's answer, and a 「更多」
            # the model read into 「那供水呢」 is a follow-up question.
            if "form" in state or understand_by_rules(text).intent != "more" or \
                    state.get("last_step") and asks_next_step(text):  # 「然后呢」 after one step: the next
                u = Understanding("consult", u.text)
        region = self._profile(user, state, stateless)
        # Actions open their own transactions (they run under the rasa-sdk server too), so the
        # profile write is committed first and never holds a lock across them.
        if (note := self._form_interrupted(user, u, state)) is not None:
            return note
        turn = self._decide(user, u, state, region)
        if note := state.pop("note", None):
            turn.reply = note + "\n\n" + turn.reply
        turn.reply = self.place_names.for_user(turn.reply)
        if u.intent != "more":
            turn.reply = self._first_page(turn.reply, state)
        return turn

    def _profile(self, user: str, state: dict, stateless: bool = False) -> str | None:
        """The user's region, and a fresh "last wrote at" (it opens WeChat's 48-hour window).
        Both live in the conversation state between refreshes: minute precision is plenty for a
        48-hour window, and it spares the database a write on every message.

        Also notices an application form the database says is open while the state has none:
        Redis restarted empty (state["form_lost"]) or is down (state["form_paused"]).
        With the database down, consultation goes on: the profile waits for the next refresh."""
        now = time.time()
        if now - state.get("seen", 0) >= PROFILE_REFRESH_S or "region" not in state:
            try:
                with transaction(self.sessions) as db:
                    users.touch(db, user)
                    state["region"] = users.region_of(db, user)
                    started = users.form_started_at(db, user)
            except DATABASE_DOWN:
                log.warning("database unavailable: profile not refreshed, answering from the knowledge base")
                state["seen"] = now - PROFILE_REFRESH_S + PROFILE_RETRY_S
                return state.get("region")
            state["seen"] = now
            if started is not None and "form" not in state and \
                    now - clock.as_utc(started).timestamp() < self.settings.conversation_ttl_s:
                state["form_paused" if stateless else "form_lost"] = clock.as_utc(started).timestamp()
        return state["region"]

    def _form_interrupted(self, user: str, u: Understanding, state: dict) -> Turn | None:
        """The reply when the database knows of an open form that the conversation state lost
        (None when there is none, or when the message is a question: that is answered as usual,
        with the news in front). The applicant always learns whether the application went in."""
        lost, paused = state.pop("form_lost", None), state.pop("form_paused", None)
        if lost is None and paused is None:
            return None
        with transaction(self.sessions) as db:
            submitted = cases.submitted_since(db, user, lost or paused)
            if lost is not None or submitted is not None:
                users.mark_form(db, user, False)
        if submitted is not None:
            note = texts.FORM_WENT_IN.format(number=submitted.number, when=clock.local_text(submitted.created_at))
        elif lost is not None:
            note = texts.FORM_LOST
        else:
            note = texts.FORM_PAUSED
        if u.intent == "consult" and is_question(u.text) or lost is not None and u.intent.startswith("apply"):
            state["note"] = note
            return None
        return Turn(note, "form_interrupted")

    def _stateless_turn(self, user: str, text: str) -> Turn:
        """Redis is down: everything that reads the knowledge base or the database still works
        (consultation, progress, 催办, 一次性告知); what needs the conversation's memory does not."""
        if understand(text).intent in NEEDS_STATE:
            return Turn(texts.STATE_UNAVAILABLE, "unavailable")
        try:
            return self._turn(user, text, {}, stateless=True)
        except DATABASE_DOWN:
            log.warning("database unavailable as well: nothing but the knowledge base answers")
            return Turn(texts.DB_DOWN, "unavailable")

    def handle_event(self, user: str, event: str, key: str | None = None) -> Turn | None:
        """Follow / unfollow here; menu clicks and QR code scans (`key`: the click's key, the
        scan's scene) in events.py. Other events get no reply (WeChat accepts an empty `success`)."""
        with transaction(self.sessions) as db:
            if event in ("subscribe", "subscribe_scan"):
                users.touch(db, user, subscribed=True)
                if event == "subscribe":
                    return Turn(texts.WELCOME, "subscribe")
            if event == "unsubscribe":
                users.touch(db, user, subscribed=False)
                return None
        return self.events.handle(user, event, key)

    # -- decisions ------------------------------------------------------------------------

    def _decide(self, user: str, u: Understanding, state: dict, region: str | None) -> Turn:
        if u.intent == "more":
            return self._more(state)
        state.pop("pages", None)
        if REGION_KEY in state:  # 转人工 asked which region: this is the answer (or 取消)
            return Turn(self.handoff.region_reply(user, u, state) + self._form_tail(state), "human")
        if "form" in state:
            return self._in_form(user, u, state)
        # 「确认办结」/「有问题」, 「已收到材料」 (dialogs/completion.py, issue 17)
        if (answered := self.completion.turn(user, u, state)) is not None:
            return Turn(answered, "completion")
        # 「确认预约」/「改个时间 …」/「我的预约」 (dialogs/appointments.py, issue 17 item 1)
        if (answered := self.appointments.turn(user, u, state)) is not None:
            return Turn(answered, "appointment")
        # 修改联系人 on a submitted case, a 提前介入 invitation (dialogs/case_details.py, issue 17)
        if (changed := self.case_details.turn(user, u, state, _editable_slot(u.entities.get("what", "")))) is not None:
            return Turn(changed, "case_details")
        menu = state.pop("menu", None)  # a menu answers only the very next message
        if u.intent == "select" and menu:
            return self._select(user, u.number, menu, state, region)
        if menu and menu.get("kind") == "folk" and u.intent != "select":
            choice = self._folk_choice(u.text, menu)
            if choice is not None:
                return self._select(user, choice, menu, state, region)
        if u.intent == "other_region" and menu and menu.get("kind") == "regions":
            return self._answer_topic(menu["topic"], None, state, region_known=True)
        if (rated := rating_turn(self.rating, user, u.text, u.intent, u.entities, state)) is not None:  # 好差评
            return Turn(rated, "rate")
        if state.pop("awaiting_handoff", False) and u.intent in ("consult", "select", "other_region"):
            return self._handoff(user, u.text, state, region)
        if u.intent == "human":
            return self._handoff(user, handoff_question(u.text), state, region)
        simple = {"empty": texts.EMPTY, "filler": texts.FILLER, "help": texts.MENU, "thanks": texts.THANKS,
                  "select": texts.MENU_EXPIRED, "cancel": texts.NOTHING_TO_CANCEL, "edit": texts.EDIT_OUTSIDE_FORM}
        if u.intent in simple:
            return Turn(simple[u.intent], u.intent)
        if u.intent == "greet":
            return Turn(texts.GREETING, "greet")
        if u.intent in ("apply", "apply_bangban", "apply_daiban"):
            return self._start_form(user, u, state, region)
        intent = u.intent
        if intent in ("consult", "notice") and mentions_correction(u.text) and self._correction_open(user):
            intent = "progress"  # 「补正材料准备好了怎么交」: what is missing, by when, and how to hand it in
        if intent in self.service_actions:
            messages, _ = run_action(self.service_actions[intent], user, {}, u.text, intent=intent, entities=u.entities)
            if messages == [texts.NO_CASE] and self._asks_how_the_service_runs(u.text, state):
                # 「环评还没批下来 能不能先办其他审批」「谁来回访我们」 from someone with no case asks about
                # approval or the service, it does not chase a case of theirs (「我的申请怎么样了」
                # still learns there is none).
                return self._consult(user, u.text, state, region)
            return Turn("\n\n".join(messages), intent)
        return self._consult(user, u.text, state, region)

    def _without_other_regions(self, result: Result, about: str | None) -> Result:
        """A menu for a question about one region offers nothing only another region's document has
        (「江北帮代办管哪些项目」 is not asking about 岳阳's two-tier centres); a lone option left is answered."""
        if about not in self.kb.regions:
            return result
        kept = tuple(c for c in result.candidates
                     if (e := self.kb.variant(c.topic, about)) is not None and e.region in ("all", about))
        if len(kept) == len(result.candidates) or not kept:
            return result
        if len(kept) == 1:  # as the retriever treats a lone option: answered only when plausible
            plausible = result.confidence >= self.retriever.thresholds.plausible
            return Result("answer", kept, result.confidence, tentative=True) if plausible else \
                Result("unsure", kept, result.confidence)
        return Result("clarify", kept, result.confidence)

    def _asks_how_the_service_runs(self, text: str, state: dict) -> bool:
        if not (is_question(text) or question_word_in(text) or "谁" in text):
            return False
        if not asks_about_own_case(text):
            return True
        # Even in the words of a case (「岳阳对我们交的材料有啥要求」): when the knowledge base is sure.
        r = self.retriever.search(text)
        return bool(is_question(text) and (r.kind == "answer" and not r.tentative
                                           or self._read_in_context(text, state) is not None))

    def _consult(self, user: str, text: str, state: dict, region: str | None) -> Turn:
        # 「青禾市代办要钱吗」: the knowledge base's 某县级市; 「荣家湾镇的项目能代办吗」: a 镇 of config/
        # region_tiers.yaml is read as the place above it the knowledge base knows (岳阳县), and said.
        text, lower = self.place_names.for_kb(text)
        turn = self._consult_read(user, text, state, region)
        if lower is not None and turn.topic and turn.intent in ("consult", "select"):
            turn.reply = texts.LOWER_PLACE.format(place=lower.name, where=lower.where, region=lower.region) + "\n" + turn.reply
            # The form's region question offers it while the talk stays in its region (its commissioners
            # take the case).
            state["last_place"] = [lower.name, lower.region]
        return turn

    def _consult_read(self, user: str, text: str, state: dict, region: str | None) -> Turn:
        text = without_preamble(text)  # 「行，懂了。那办完了证是怎么给我们」 asks 「那办完了证是怎么给我们」
        self.handoff.noticed(text, state)
        if state.get("last_topic") and (n := ordinal(text)) is not None and (step := self._step_of(state, region, n)):
            return step
        if state.get("last_topic") and (n := state.get("last_step")) and asks_next_step(text) and \
                (step := self._step_of(state, region, n + 1)):
            return step
        if (step := self._step_asked_with_subject(text, state, region)) is not None:
            return step
        if (step := self._step_after(text, state, region)) is not None:
            return step
        # 「那东湖呢」 asks the last answer again for another region.
        subject = follow_up_subject(text) if (state.get("last_topic") or state.get("last_asked")) else None
        if subject and (named := self.kb.find_region(subject)) and is_only_a_name(subject, self._region_names):
            if state.get("last_topic"):
                return self._answer_topic(state["last_topic"], named, state, region_known=True, regional=True)
            # The last question found no answer: ask it again about the region now named.
            # 「东湖代办要签什么」 then 「那江北呢」: only 江北 is named now
            asked = without_names(state["last_asked"], self._region_names)
            text = f"{self.kb.regions[named].short}{asked}"
            region = named
        elif (stated := self._region_stated(text)) is not None:
            return self._note_region(user, stated, state)
        # 「那规划证呢」 asks the previous question again about something else: read it in context
        # first (even a menu there beats one built from two words), the message alone otherwise.
        follow = rewrite(text, state["last_question"], self._item_names) if state.get("last_question") else None
        if follow and (done_then(text) is not None or question_word_in(follow[1]) or "谁" in follow[1]) \
                and not points_back(follow[1]) and bare_aspect(follow[1]) is None:
            # 「差评了然后呢」「那谁来监督代办员」 ask a question of their own, not the last one about
            # something else: the message alone is read first (「那他们能帮上什么忙」 and 「要带什么资料」
            # lean on the last answer, and are not).
            alone = self.retriever.search(text)
            if alone.kind == "answer" and not alone.tentative or alone.kind == "clarify" and \
                    self.retriever.search(follow[0]).topic not in {c.topic for c in alone.candidates}:
                follow = None  # even a menu of its own beats the last question's answer on another topic
        # 「规划证」 names two permits: ask which, between exactly those two.
        # In a follow-up only its own subject can be the folk name (「那施工证呢」 after a question
        # naming 规划许可 is about 施工许可).
        folk = self.retriever.ambiguity(follow[1] if follow else text)
        if folk is not None and follow is None and self._about_neither(text, *folk):
            folk = None  # 「规划证下来能给我们寄过来不」 asks about 送达, whichever permit it is
        if folk is not None:
            term, meanings = folk
            state["menu"] = {"kind": "folk", "term": term, "options": list(meanings),
                             "question": follow[0] if follow else text}
            lines = [f"{i}. {m}" for i, m in enumerate(meanings, 1)]
            return Turn("\n".join([texts.FOLK_HEAD.format(term=term), *lines, texts.FOLK_TAIL]), "clarify")
        result = self.retriever.search(follow[0]) if follow else None
        # The context reading counts only if its answer is about the new subject: 「那用地规划许可证呢」
        # after a time-limit question must not get the construction permit's time limit.
        if result is None or result.kind == "unsure" or \
                (result.kind == "answer" and not self.retriever.mentions(result.topic, follow[1])):
            result = self.retriever.search(text)
        if result.kind != "answer" or result.tentative:
            result = self._read_in_context(text, state) or result
        if result.kind == "clarify":
            result = self._without_other_regions(result, self._region_about(text, state, region))
        self.query_log.add(user, text, kb_form(text), _outcome(result), result.topic, result.confidence)
        # 「江北和东湖代办怎么申请 有啥不同」 compares before it splits: each region's rule side by side.
        if follow is None and (compared := self._regions_compared(text, result, state)) is not None:
            return compared
        if follow is None and (several := self._several_questions(text, result, state, region)) is not None:
            return several
        if result.kind != "answer":
            state["unanswered"] = text  # what 转人工 will hand over
            state["last_asked"] = text  # what 「那东湖呢」 will ask again
            state.pop("last_topic", None)  # a follow-up leans on this question, not an older answer
            state.pop("last_question", None)
        if result.kind == "unsure":
            if tells_without_asking(text) and (told := self.kb.find_region(text)) is not None:
                # 「我们在青禾市 做食品厂扩建」 tells where the project is and asks nothing yet
                return self._note_region(user, told, state)
            return Turn(texts.UNSURE, "consult", None, result.confidence)
        if result.kind == "clarify" and (elsewhere := self._elsewhere(
                text, result.candidates[0].topic, self.kb.find_region(text), region)) is not None:
            state["unanswered"] = text  # 「苏州那边的代办跟你们这有啥不一样」: no menu of our own rules
            return elsewhere
        if result.kind == "clarify":
            options = [c.topic for c in result.candidates]
            # The region the question named answers the option chosen and a short follow-up
            # (「我们在东湖，…怎么弄」, then 「1」 or 「要钱吗」, got the general answer, or every region's).
            lines, state["menu"] = self._topic_menu(options, text)
            if state["menu"]["about"]:
                state["last_region"] = state["menu"]["about"]
            reply = "\n".join([*lines, texts.CLARIFY_TAIL])
            return Turn(reply, "consult", None, result.confidence)
        if self._no_published_answer(result.topic):
            state["unanswered"] = text  # an honest "nobody publishes this": 转人工 hands it over
        named = self.kb.find_region(text)
        about = self._region_about(text, state, region)
        if (elsewhere := self._elsewhere(text, result.topic, named, about)) is not None:
            state["unanswered"] = text  # what 转人工 hands over
            return elsewhere
        turn = self._answer_topic(result.topic, about, state)
        if turn.intent == "consult" and state.get("last_topic") == result.topic:
            self._pick_chain(state, about, text)  # 「江北代办是个什么流程」: 「第三步呢」 is 代办's third
        if turn.intent == "consult" and turn.caveat is None:
            self._say_whose_rule(turn, text, named, about)
        if turn.intent == "consult" and turn.caveat is None:
            self._say_region_is_silent(turn, named)
        if turn.intent == "consult":  # after 「X的文件没有公布…」 too: the rule shown still lacks the figure
            self._say_figure_is_missing(turn, text, about)
        if turn.intent == "consult" and turn.caveat is None:
            self._say_place_is_not_listed(turn, text)
        if turn.intent == "consult" and turn.caveat is None:
            self._say_other_place_is_not_held(turn, text, named)
        turn.confidence = result.confidence
        if result.tentative and turn.intent == "consult":
            turn.reply += "\n" + texts.TENTATIVE_TAIL
        return turn

    def _several_questions(self, text: str, result: Result, state: dict, region: str | None) -> Turn | None:
        """「能不能上门给我们讲流程，顺便问下规费谁交」 asks two things: each is answered, in order, when
        each alone is a confident answer on a topic of its own; otherwise the message is read whole."""
        parts, strong = split_questions(text)
        if len(parts) < 2:
            return None
        # Read whole and answered, the message is split only if its answer lacks what one part asks
        # (「代办收费吗？要多久能办完」), or if the answer is that of one part and another part has one of its
        # own (「代办收钱不 要签协议吗」 was the agreement alone).
        whole = result.topic if result.kind == "answer" and not result.tentative and not strong else None
        if whole is not None:
            entry = self.kb.variant(whole, self._region_about(text, state, region))
            if entry is not None and NO_PUBLISHED_ANSWER in entry.tags:
                return None  # 「人防易地建设费按什么标准收 一平米多少」: one honest 「没有公布」 answers it all
            if entry is not None and figure_missing(text, entry.answer):
                whole = None
        # 「施工许可要多久 还有就是要什么材料」「代办免费不 怎么申请」: a later part without a subject
        # asks about the first's item, or the service it named
        item = next((n for n in (*self._item_names, *_SERVICE_WORDS) if n in parts[0]), None)
        sure = lambda r: r.kind == "answer" and not r.tentative  # noqa: E731
        shown, asked, found = [parts[0]], [parts[0]], [self.retriever.search(parts[0])]
        for typed in parts[1:]:
            part, r = typed, self.retriever.search(typed)
            if not sure(r) and item and item not in part:
                part = f"{item}{part}"
                r = self.retriever.search(part)
            if not sure(r):  # 「代办怎么申请 能打电话不」: a piece unsure alone belongs to the one before
                part, typed = f"{asked.pop()} {typed}", f"{shown.pop()} {typed}"
                found.pop()
                r = self.retriever.search(part)
            shown.append(typed)
            asked.append(part)
            found.append(r)
        topics = [r.topic for r in found]
        if len(asked) >= 2 and not sure(found[0]) and all(sure(r) for r in found[1:]) and result.kind == "clarify" \
                and len(set(topics[1:])) == len(topics) - 1 and \
                set(topics[1:]) <= {c.topic for c in result.candidates} and \
                not any(self._no_published_answer(c.topic) for c in (*result.candidates, *found[0].candidates)):
            # 「…帮办多久反馈一次？还有帮办是一对一吗」: the whole message's menu mixed both questions. The
            # later part, sure alone and among the menu's options (a short piece alone can be sure of the
            # wrong thing: 「收费标准是多少」 after a permit is not the service's fee), is answered; the
            # first gets its own menu or 「答不准」. A message near an unpublished fact (「镇代办员的工资多少
            # 是不是公务员编制」) is read whole: its other half alone is easily answered from a neighbour.
            return self._partly_answered(text, shown, asked, found, state, region)
        if len(asked) < 2 or not all(sure(r) for r in found) or len(set(topics)) < len(topics) or \
                whole is not None and whole not in topics:
            return None
        about = self._region_about(text, state, region)
        turns = [self._answer_topic(t, self._region_about(p, state, about), state) for p, t in zip(asked, topics)]
        if any(t.intent != "consult" for t in turns):
            return None
        for part, turn in zip(asked, turns):
            self._say_figure_is_missing(turn, part, about)
        numbered = [f"{texts.ORDINALS[i]}、{typed}\n{turn.reply}" for i, (typed, turn) in enumerate(zip(shown, turns))]
        reply = "\n\n".join([texts.SEVERAL_QUESTIONS.format(n=texts.QUESTION_COUNTS[len(asked)]), *numbered])
        return Turn(reply, "consult", topics[-1], result.confidence,
                    caveat=next((t.caveat for t in turns if t.caveat), None))

    def _partly_answered(self, text: str, shown: list[str], asked: list[str], found: list[Result], state: dict,
                         region: str | None) -> Turn | None:
        about = self._region_about(text, state, region)
        turns = [self._answer_topic(r.topic, self._region_about(p, state, about), state)
                 for p, r in zip(asked[1:], found[1:])]
        if any(t.intent != "consult" for t in turns):
            return None
        for part, turn in zip(asked[1:], turns):
            self._say_figure_is_missing(turn, part, about)
        first = found[0]
        answered = {r.topic for r in found[1:]}
        options = [c.topic for c in first.candidates if c.topic not in answered] if first.kind == "clarify" else []
        lines, menu = self._topic_menu(options, text) if len(options) >= 2 else ([texts.PART_UNSURE], None)
        state["unanswered"] = asked[0]  # what 转人工 hands over
        replies = ["\n".join(lines), *(t.reply for t in turns)]
        numbered = [f"{texts.ORDINALS[i]}、{typed}\n{reply}" for i, (typed, reply) in enumerate(zip(shown, replies))]
        reply = "\n\n".join([texts.SEVERAL_QUESTIONS.format(n=texts.QUESTION_COUNTS[len(asked)]), *numbered])
        if menu is not None:  # the menu answers the next message, as any menu (set last: answers pop it)
            state["menu"] = menu
        return Turn(reply, "consult", turns[-1].topic, first.confidence,
                    caveat=next((t.caveat for t in turns if t.caveat), None))

    def _topic_menu(self, options: list[str], text: str) -> tuple[list[str], dict]:
        """A numbered menu of topics (its head and lines) and its state: the region the question
        named answers the option chosen."""
        lines = [texts.CLARIFY_HEAD, *(f"{i}. {self.kb.topic_title(t)}" for i, t in enumerate(options, 1))]
        return lines, {"kind": "topics", "options": options, "about": self.kb.find_region(text)}

    def _regions_compared(self, text: str, result: Result, state: dict) -> Turn | None:
        """「江北和岳阳 帮办申请方式有啥不一样」 names two regions: the topic is answered for each, side
        by side, rather than for one of them or from a menu (the first candidate with a rule of
        either region's own)."""
        named = self.kb.find_regions(text)
        if len(named) < 2 or result.kind not in ("answer", "clarify"):
            return None
        candidates = [result.topic] if result.kind == "answer" else [c.topic for c in result.candidates]
        topic = next((t for t in candidates if t and set(named) & set(self.kb.region_regional_topics(t))), None)
        if topic is None:
            return None
        parts = []
        for r in named:
            turn = self._answer_topic(topic, r, state, region_known=True, regional=True)
            parts.append(f"【{self.kb.regions[r].name}】\n{turn.reply}")
        state["last_region"] = None
        return Turn("\n\n".join(parts), "consult", topic, result.confidence)

    def _step_of(self, state: dict, region: str | None, n: int) -> Turn | None:
        """One numbered line of the last answer (「第二步呢」), with that answer's source."""
        entry = self.kb.variant(state["last_topic"], state.get("last_region") or region)
        if entry is None:
            return None
        lines = flow_lines(entry.answer, state.get("last_chain", 0))
        if not lines or not (-len(lines) <= (n if n < 0 else n - 1) < len(lines)):
            return None
        line = lines[n if n < 0 else n - 1]
        state["last_step"] = len(lines) if n < 0 else n
        source = entry.cited_answer().splitlines()[-1]
        return Turn(texts.STEP.format(line=line, title=entry.title, n=len(lines), source=source), "consult",
                    entry.topic)

    def _about_neither(self, text: str, term: str, meanings: tuple[str, ...]) -> bool:
        """Whether the message is confidently about a topic that is not any of the things a folk
        name may mean (delivery, fees of the service): then which permit it is does not matter."""
        own = self.retriever.search(text)
        if own.kind == "answer" and not own.tentative and \
                not any(self.retriever.mentions(own.topic, meaning) for meaning in meanings):
            return True
        # 「从规划证到施工证再到竣工，帮办是不是全都能管」 names other permits too: it asks about them all.
        others = [n for n in self._item_names if n in text and not any(n in m or m in n for m in (term, *meanings))]
        return len(others) > 0 and own.kind != "unsure"

    def _pick_chain(self, state: dict, region: str | None, text: str) -> None:
        """Of an answer with several flows (江北's 帮办 and 代办), the one the question's words are
        in: 「申请完第二步是啥」 is 代办's second step (提交申请 → 上门受理)."""
        entry = self.kb.variant(state["last_topic"], state.get("last_region") or region)
        chains = flow_chain_texts(entry.answer) if entry is not None else []
        if len(chains) < 2:
            return
        words = set(self.retriever.analyzer.terms(text).words)
        shared = [sum(w in chain for w in words) for chain in chains]
        if max(shared) > 0:
            state["last_chain"] = shared.index(max(shared))

    def _step_after(self, text: str, state: dict, region: str | None) -> Turn | None:
        """「申请了之后呢」「受理以后呢」 right after a flow: the step after the one the user names."""
        done = done_then(text)
        if done is None or not state.get("last_topic"):
            return None
        where = state.get("last_region") or region
        entry = self.kb.variant(state["last_topic"], where)
        if entry is not None and not FLOW_TAGS & set(entry.tags):
            # The last answer listed things, not steps (「怎么申请」's channels): what follows 申请
            # is in the region's service flow.
            entry = self.kb.variant(PROCESS_TOPIC, where) if PROCESS_TOPIC in self.kb.topics else None
        # Its words and two-character pieces: 「签订协议」 is the line that says 「签协议」.
        words = set(self.retriever.analyzer.terms(done).words) | {done[i:i + 2] for i in range(len(done) - 1)}
        # The step done is the line sharing most words with it, in whichever of the answer's flows.
        chains = flow_chains(entry.answer) if entry else []
        current = state.get("last_chain", 0) if state.get("last_chain", 0) < len(chains) else 0
        # A step both flows have (统一送达) is the one of the flow being followed (代办's after 「上门受理以后呢」).
        hits = [(sum(w in line for w in words), c == current, -c, -i)
                for c, lines in enumerate(chains) for i, line in enumerate(lines)]
        # 「办完以后呢」 asks how the flow ends: its last step (归档, 交还资料), named 办结 or not.
        finished = done == "办结"
        if not hits or max(hits)[0] == 0:
            if not (finished and chains):
                return None
            hits = [(1, True, -current, -(len(chains[current]) - 1))]
        _, _, chain, step = max(hits)
        state["last_topic"], state["last_region"] = entry.topic, entry.region or state.get("last_region")
        state["last_chain"] = -chain
        last = -step == len(chains[-chain]) - 1
        return self._step_of(state, region, -1 if finished and last else -step + 2)

    def _elsewhere(self, text: str, topic: str, named: str | None, about: str | None) -> Turn | None:
        """「长沙市的帮代办电话是多少」「苏州那边的代办跟你们这有啥不一样」: a place whose documents we do
        not hold, asked about the service itself, gets the honest 「只收录五个地区」 — not one of our
        regions' rules as if it were that place's. (A national rule asked about it is answered, saying
        whose rule it is: _say_whose_rule. 「公司注册在外省」 is about the company, not the project.)"""
        place = None if named else self._other_place_asked(text)
        if place is None or OTHER_REGIONS_TOPIC not in self.kb.topics:
            return None
        entry = self.kb.variant(topic, about)
        if entry is None or entry.general_guidance or not topic.startswith(("service.", "local.", "bot.")):
            return None
        turn = self._answer_topic(OTHER_REGIONS_TOPIC, about, {})
        turn.caveat = "other_place"
        return turn

    def _region_about(self, text: str, state: dict, region: str | None) -> str | None:
        """The region a question is about: the one it names; for a short question right after an
        answer about a region, that region (「他的电话给一下」 after 岳阳's groups, whatever the user's
        own region); else the user's own."""
        if named := self.kb.find_region(text):
            return named
        if is_short(text) and state.get("last_region"):
            return state["last_region"]
        return region

    def _step_asked_with_subject(self, text: str, state: dict, region: str | None) -> Turn | None:
        """「东湖帮办第一步是啥」: the flow the question names, then the step it asks about."""
        inside = ordinal_inside(text)
        if inside is None or len(inside[1]) < 2:
            return None
        r = self.retriever.search(f"{inside[1]} 流程步骤")
        if r.kind != "answer" or r.tentative:
            return None
        about = self._region_about(text, state, region)
        whole = self._answer_topic(r.topic, about, state)
        if whole.intent != "consult":
            return whole
        self._pick_chain(state, about, inside[1])
        return self._step_of(state, about, inside[0]) or whole

    def _no_published_answer(self, topic: str | None) -> bool:
        return bool(topic) and any(NO_PUBLISHED_ANSWER in e.tags for e in self.kb.topics.get(topic, ()))

    def _form_closed(self, user: str) -> None:
        try:
            with transaction(self.sessions) as db:
                users.mark_form(db, user, False)
        except DATABASE_DOWN:  # the marker only costs a needless 「已提交」 check later
            log.warning("database unavailable: open-form marker not cleared")

    def _correction_open(self, user: str) -> bool:
        with transaction(self.sessions) as db:
            return cases.has_open_correction(db, user)

    def _region_stated(self, text: str) -> str | None:
        """The region a message only states (「我们在江北」「项目在东湖那边」「岳阳的」), asking nothing."""
        named = self.kb.find_region(text)
        return named if named is not None and says_only_where(text, self._region_names) else None

    def _note_region(self, user: str, region: str, state: dict) -> Turn:
        with transaction(self.sessions) as db:
            users.set_region(db, user, region)
        state["region"] = region
        name = self.kb.regions[region].name
        return Turn(texts.REGION_SET.format(region=name) + "\n" + texts.REGION_NOTED_TAIL.format(region=name), "region")

    def _folk_choice(self, text: str, menu: dict) -> int | None:
        """A reply to the 规划证 question that names one of the options instead of its number."""
        return option_named(self.retriever.analyzer.canonical_text(text), menu["options"])

    def _answer_topic(self, topic: str, region: str | None, state: dict, region_known: bool = False,
                      regional: bool = False) -> Turn:
        if regional and region in self.kb.regions and region not in self.kb.region_regional_topics(topic):
            # 「那东湖呢」 where 东湖's document says nothing of its own: the general answer, saying so.
            turn = self._answer_topic(topic, None, state, region_known=True)
            turn.reply = texts.NO_REGIONAL_RULE.format(region=self.kb.regions[region].name) + "\n" + turn.reply
            turn.caveat = "region_silent"
            return turn
        entry = self.kb.variant(topic, region)
        if entry is None and not region_known:
            options = [r for r in self.kb.regions if r in self.kb.region_regional_topics(topic)]
            state["menu"] = {"kind": "regions", "options": options, "topic": topic}
            lines = [f"{i}. {self.kb.regions[r].name}" for i, r in enumerate(options, 1)]
            return Turn("\n".join([texts.ASK_REGION_HEAD, *lines, texts.ASK_REGION_TAIL]), "ask_region", topic)
        if entry is None:  # no general variant exists: the first region's is the honest best
            entry = self.kb.topics[topic][0]
        state["last_topic"] = topic
        state.pop("last_step", None)
        state.pop("last_chain", None)
        state["last_region"] = entry.region if entry.region != "all" else None
        state["last_question"] = entry.question
        reply = entry.cited_answer()
        if region in self.kb.regions and entry.region not in ("all", region) and entry.region in self.kb.regions:
            # Only another region's document has this (江北's 时限承诺 asked by a 延津 user): say so.
            reply = texts.ONLY_OTHER_REGION.format(region=self.kb.regions[region].name,
                                                   other=self.kb.regions[entry.region].name) + "\n" + reply
            caveat = "other_region"
        else:
            caveat = None
        if "联系方式" in entry.tags:
            reply += self._contacts_for(region)
        return Turn(reply, "consult", topic, caveat=caveat)

    def _read_in_context(self, text: str, state: dict) -> Result | None:
        """A short question that leans on the last answer without naming its subject (「他的电话给一下」
        after 岳阳's 报装 group, 「选代办员看啥条件」 after the staffing rule), read together with the
        question that answer was for. Only a confident answer counts, and the same topic again only
        when its answer holds a word the user asked (「每次多久」 after the permit's 延期 rule: 「每次」):
        the last question dominates the joint reading, and 「周六上班不」 must not get it repeated."""
        last = state.get("last_question")
        if not last or not is_short(text):
            return None
        r = self.retriever.search(f"{last} {text}")
        if r.kind != "answer" or r.tentative:
            return None
        if r.topic == state.get("last_topic"):
            entry = self.kb.variant(r.topic, state.get("last_region")) or self.kb.topics[r.topic][0]
            words = self.retriever.analyzer.terms(text).words
            if not (any(w in entry.answer for w in words) or self.retriever.mentions(r.topic, text)):
                return None
        return r

    def _say_whose_rule(self, turn: Turn, text: str, named: str | None, region: str | None) -> None:
        """A national rule given to a question about one place says so first: 「江北施工许可几个工作日」
        must not read as if 江北 had published 7 days, nor 「湖北省规定…」 as if it were 湖北's rule."""
        entry = self.kb.variant(turn.topic, named or region)
        if entry is None or not entry.general_guidance:
            return
        place = None if named else self.kb.find_other_place(text)
        if place:
            turn.reply = texts.OTHER_PLACE_GENERAL.format(place=place) + "\n" + turn.reply
            turn.caveat = "other_place"
            return
        about = named or (region if asks_amount(text) else None)
        if about in self.kb.regions and about not in self.kb.region_regional_topics(turn.topic):
            turn.reply = texts.REGION_SILENT_GENERAL.format(region=self.kb.regions[about].name) + "\n" + turn.reply
            turn.caveat = "region_silent"

    def _say_region_is_silent(self, turn: Turn, named: str | None) -> None:
        """A summary of other regions' documents given to a question naming a region the summary
        neither cites nor describes by name (「江北代办要不要签委托协议」: only 县级市, 岳阳 and 东湖
        are described) says first that this region's document is silent, rather than seeming to
        answer for it. (A region with something of its own has its own variant: coverage.yaml.)"""
        if named not in self.kb.regions or named in self.kb.region_regional_topics(turn.topic):
            return
        entry = self.kb.variant(turn.topic, named)
        if entry is None or entry.region != "all" or entry.general_guidance or NO_PUBLISHED_ANSWER in entry.tags \
                or not turn.topic.startswith(("service.", "local.")):  # honest or bot topics say so already
            return
        docs = {s.doc for s in entry.sources if s.doc}
        own = self.kb.regions[named]
        cited = own.source is not None and own.source.doc in docs
        described = any(n in entry.answer for n in (own.short, own.name, *own.aliases))
        if not docs or cited or described:
            return
        turn.reply = texts.REGION_SILENT_OTHERS.format(region=self.kb.regions[named].name) + "\n" + turn.reply
        turn.caveat = "region_silent"

    def _say_figure_is_missing(self, turn: Turn, text: str, region: str | None) -> None:
        """An answer on the question's subject that lacks the exact figure asked for (a phone number,
        a headcount, a time limit, a fee, a link, an address) says first that no document gives it,
        so the rule that follows is not read as the figure (「施工图审查要交多少钱」 → the materials list)."""
        entry = self.kb.variant(turn.topic, region) or self.kb.topics[turn.topic][0]
        if NO_PUBLISHED_ANSWER in entry.tags:
            return  # the entry shown says so itself
        if what := figure_missing(text, turn.reply):
            turn.reply = texts.FIGURE_MISSING.format(what=what) + "\n" + turn.reply
            turn.caveat = turn.caveat or "figure_missing"

    def _other_place_asked(self, text: str) -> str | None:
        """A place whose documents we do not hold that the question asks about (not where the
        company is from: 「公司注册在外省」)."""
        place = self.kb.find_other_place(text)
        return None if place is None or says_where_a_company_is_from(text, place) else place

    def _say_other_place_is_not_held(self, turn: Turn, text: str, named: str | None) -> None:
        """「渝北区的帮代办是不是跟江北一样的流程」 names one of our regions and a place whose documents we
        do not hold: the answer is our region's, and says first that the other place's is not here."""
        if named is None or not turn.topic or not turn.topic.startswith(("service.", "local.")):
            return
        if (place := self._other_place_asked(text)) is None:
            return
        turn.reply = texts.OTHER_PLACE_BESIDE.format(place=place, region=self.kb.regions[named].name) + "\n" + turn.reply
        turn.caveat = "other_place"

    def _say_place_is_not_listed(self, turn: Turn, text: str) -> None:
        """「华容县的帮代办联系电话多少」: 岳阳's 导则 covers its 县市区 but gives the city's leads and
        numbers only; the figure shown is the city's, and the reply says so first."""
        if (found := self.kb.find_place(text)) is None or (what := figure_asked(text)) is None:
            return
        region, place = found
        turn.reply = texts.PLACE_NOT_LISTED.format(region=self.kb.regions[region].short, place=place,
                                                   what=what) + "\n" + turn.reply
        turn.caveat = "place_not_listed"

    def _contacts_for(self, region: str | None) -> str:
        """The operator-configured channels for the user's region (or every configured region)."""
        regions = [region] if region in self.contacts else list(self.contacts)
        lines = []
        for r in regions:
            c = self.contacts[r] or {}
            name = self.kb.regions[r].name if r in self.kb.regions else r
            parts = [texts.CONTACT_FIELD.format(label=label, value=c[key])
                     for key, label in texts.CONTACT_FIELDS.items() if c.get(key)]
            if parts:
                lines.append(texts.CONTACT_LINE.format(region=name, fields=texts.CONTACT_FIELD_SEPARATOR.join(parts)))
        return "\n".join([texts.CONTACTS_HEAD, *lines]) if lines else ""

    def _select(self, user: str, number: int, menu: dict, state: dict, region: str | None) -> Turn:
        options = menu.get("options") or []
        if not 1 <= number <= len(options):
            state["menu"] = menu  # keep it open: the user only mistyped
            return Turn(texts.MENU_OUT_OF_RANGE.format(n=len(options)), "select")
        choice = options[number - 1]
        if menu.get("kind") == "folk":  # the question again, with the folk name made exact
            return self._consult(user, menu["question"].replace(menu["term"], choice, 1), state, region)
        if menu.get("kind") == "regions":
            with transaction(self.sessions) as db:
                users.set_region(db, user, choice)
            state["region"] = choice
            turn = self._answer_topic(menu["topic"], choice, state)
            turn.reply = texts.REGION_SET.format(region=self.kb.regions[choice].name) + "\n" + turn.reply
            return turn
        turn = self._answer_topic(choice, menu.get("about") or region, state)
        turn.intent = "select"
        return turn

    def _handoff(self, user: str, question: str, state: dict, region: str | None) -> Turn:
        return Turn(self.handoff.hand_over(user, question, state, region), "human")

    def _form_tail(self, state: dict) -> str:
        """The open form's question again, after a 转人工 turn inside it (none while 转人工 still
        waits for its region: that is the question the user should answer next)."""
        if "form" not in state or REGION_KEY in state:
            return ""
        form = state["form"]
        return "\n" + texts.FORM_RESUME + prompt(form["requested"], form["slots"], self.kb)

    # -- the application form -------------------------------------------------------------

    def _start_form(self, user: str, u: Understanding, state: dict, region: str | None) -> Turn:
        mode = u.entities.get("mode")
        slots = self.form.new_slots()
        prefill = {"service_mode": mode, "region": self.kb.find_region(u.text) or region}
        with transaction(self.sessions) as db:
            users.mark_form(db, user, True)  # outlives an emptied Redis: see _profile
        turn = self.form.fill(user, slots, {k: v for k, v in prefill.items() if v})
        state["form"] = {"slots": turn.slots, "requested": turn.requested}
        intro = texts.FORM_START.format(mode=mode or texts.FORM_EITHER_MODE)
        hint = []
        if turn.requested == "region" and (talked := state.get("last_region")) in self.kb.regions:
            name = self.kb.regions[talked].name
            place, within = state.get("last_place") or (None, None)
            hint = [texts.REGION_HINT_PLACE.format(place=place, region=name) if within == name
                    else texts.REGION_HINT.format(region=name, n=list(self.kb.regions).index(talked) + 1)]
        return Turn("\n".join([intro, *turn.messages, *hint]), u.intent)

    def _in_form(self, user: str, u: Understanding, state: dict) -> Turn:
        form = state["form"]
        slots, requested = form["slots"], form["requested"]
        if u.intent == "cancel":
            del state["form"]
            self._form_closed(user)
            return Turn(texts.FORM_CANCELLED, "cancel")
        if u.intent == "edit":
            slot = _editable_slot(u.entities.get("what", ""))
            if slot is None:
                return Turn(texts.EDIT_UNKNOWN + "\n" + prompt(requested, slots, self.kb), "edit")
            slots[slot] = None
            slots["confirmed"] = None
            if slot == "stage":
                slots["items"] = None
            form["requested"] = slot
            return Turn(prompt(slot, slots, self.kb), "edit")
        if u.intent in ("help", "greet", "filler"):
            return Turn(texts.FORM_HELP + "\n" + prompt(requested, slots, self.kb), "help")
        if u.intent == "human":
            question = (handoff_question(u.text) or state.pop("unanswered", "")
                        or texts.HANDOFF_FROM_FORM.format(slot=requested))
            turn = self._handoff(user, question, state, slots.get("region"))
            return Turn(turn.reply + self._form_tail(state), "human")
        asking = is_question(u.text)
        if requested != "service_mode" and asking:
            result = self.retriever.search(u.text)
            if asking == "maybe" and (result.kind != "answer" or result.tentative):
                result = None  # 「标准件厂」 is a company, not a question: let the form judge it
        else:
            result = None
        if result is not None:
            self.query_log.add(user, u.text, kb_form(u.text), _outcome(result), result.topic, result.confidence)
            if result.kind == "answer":
                if self._no_published_answer(result.topic):
                    state["unanswered"] = u.text  # what 转人工 will hand over
                entry = self.kb.variant(result.topic, slots.get("region")) or self.kb.topics[result.topic][0]
                return Turn(entry.cited_answer() + "\n\n" + texts.FORM_RESUME + prompt(requested, slots, self.kb),
                            "consult", result.topic, result.confidence)
            # A question the KB cannot answer is no answer to the form's question either (no
            # company is called 「社保怎么交？」): say so and ask again, rather than validate it.
            state["unanswered"] = u.text  # what 转人工 will hand over
            return Turn(texts.FORM_QUESTION_UNSURE + "\n\n" + texts.FORM_RESUME + prompt(requested, slots, self.kb),
                        "consult", None, result.confidence)
        turn = self.form.fill(user, slots, {requested: u.text}, u.text)
        if turn.ineligible:
            del state["form"]
            self._form_closed(user)
            return Turn("\n".join(turn.messages), "ineligible")
        if turn.requested is None and turn.slots.get("confirmed"):
            del state["form"]
            reply = "\n\n".join(self.form.submit(user, turn.slots))
            self._form_closed(user)
            return Turn(reply, "submitted")
        form["slots"], form["requested"] = turn.slots, turn.requested
        return Turn("\n".join(turn.messages), "form")

    # -- long replies ---------------------------------------------------------------------

    @staticmethod
    def _first_page(reply: str, state: dict) -> str:
        pages = split_pages(reply, texts.MORE_HINT)
        if len(pages) > 1:
            state["pages"] = pages[1:]
        return pages[0]

    @staticmethod
    def _more(state: dict) -> Turn:
        pages = state.get("pages") or []
        if not pages:
            return Turn(texts.NO_MORE, "more")
        page, rest = pages[0], pages[1:]
        if rest:
            state["pages"] = rest
        else:
            state.pop("pages", None)
        return Turn(page, "more")


def _editable_slot(what: str) -> str | None:
    what = what.strip()
    for name in sorted(EDITABLE, key=len, reverse=True):
        if name in what:
            return EDITABLE[name]
    return None


def _outcome(result: Result) -> str:
    return {"answer": "answered", "clarify": "clarified"}.get(result.kind, "unsure")
