"""The chat's texts live in dialogs/texts/, one module per conversation (issue 14, item 4)."""
from __future__ import annotations

from dialogs import texts


def _names(module) -> set[str]:
    return {k for k in vars(module) if k.isupper()}


def test_the_flat_names_are_unambiguous():
    """`texts.X` reaches chat, form and service alike, so no name may be defined in two of them."""
    chat, form, service = _names(texts.chat), _names(texts.form), _names(texts.service)
    assert not chat & form and not chat & service and not form & service
    for name in chat | form | service:
        assert getattr(texts, name) is next(getattr(m, name) for m in (texts.chat, texts.form, texts.service)
                                            if name in vars(m))


def test_ratings_own_names_stay_in_their_module():
    assert texts.rating.THANKS != texts.THANKS  # 「感谢您的评价」 is not the chat's 「不客气」


def test_the_form_asks_every_slot_from_its_table():
    """The form's questions and its messages for a wrong answer are data, one entry a slot."""
    from dialogs.actions.application import SLOTS

    assert set(texts.QUESTIONS) == set(SLOTS) == set(texts.INVALID)
    assert all(texts.QUESTIONS[s] and texts.INVALID[s] for s in SLOTS)
