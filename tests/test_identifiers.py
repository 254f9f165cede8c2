from datetime import date

import pytest

from bot.identifiers import (
    CREDIT_CODE_CHARS,
    Check,
    case_number,
    check_credit_code,
    check_phone,
    check_project_code,
    find_case_number,
    mask_credit_code,
    mask_phone,
    normalize,
)

# Published valid codes: the GB 32100 example used in many validators, and the codes
# in the test suites of hutool (CreditCodeUtilTest) and wbximy-common (test_credit_code).
PUBLISHED_VALID_CREDIT_CODES = [
    "91350100M000100Y43",
    "91310110666007217T",
    "91310115591693856A",
    "91110000MA01A7RH2R",
    "53640000MJX173672F",
]
TODAY = date(2026, 11, 24)


# -- normalize -----------------------------------------------------------------------------

def test_normalize_folds_full_width_strips_separators_and_upper_cases():
    assert normalize("ｍａ０１－a7 rh") == "MA01A7RH"
    assert normalize("  9135\u3000 0100—m ") == "91350100M"


def test_normalize_can_keep_separators():
    assert normalize("2020－330327　48", drop_separators=False) == "2020-330327 48"


# -- credit code: valid ----------------------------------------------------------------------

@pytest.mark.parametrize("code", PUBLISHED_VALID_CREDIT_CODES)
def test_published_credit_codes_are_valid(code):
    assert check_credit_code(code) == Check(True, code, None)


def test_credit_code_typed_full_width_lower_case_with_spaces_is_normalised():
    result = check_credit_code(" ９１３５０１００ｍ０００１００ｙ４３ ")
    assert result.ok and result.value == "91350100M000100Y43"
    assert check_credit_code("9135-0100-M000-100Y-43").value == "91350100M000100Y43"


def test_check_is_frozen():
    with pytest.raises(AttributeError):
        check_credit_code("91350100M000100Y43").ok = False


# -- credit code: each kind of error ---------------------------------------------------------

def test_credit_code_empty():
    result = check_credit_code("   ")
    assert not result.ok and result.value is None and "18位" in result.error


def test_credit_code_wrong_length_says_how_many_were_typed():
    result = check_credit_code("91350100M000100Y4")
    assert not result.ok
    assert "应为18位" in result.error and "17位" in result.error
    assert "19位" in check_credit_code("91350100M000100Y433").error


def test_credit_code_letter_o_is_named_with_a_hint():
    result = check_credit_code("9135010OM000100Y43")
    assert not result.ok
    assert "“O”" in result.error and "字母O可能应为数字0" in result.error


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_every_excluded_letter_is_rejected(letter):
    result = check_credit_code("91350100M000100" + letter + "43")
    assert not result.ok and f"“{letter}”" in result.error


def test_credit_code_other_illegal_characters_are_named():
    result = check_credit_code("91350100M000100Y4#")
    assert not result.ok and "“#”" in result.error


def test_credit_code_unknown_registration_department():
    result = check_credit_code("B1350100M000100Y43")
    assert not result.ok and "第1位" in result.error


@pytest.mark.parametrize("prefix", ["94", "Y2", "A3", "22", "83", "N4", "36"])
def test_credit_code_category_not_allowed_for_department(prefix):
    result = check_credit_code(prefix + "350100M000100Y43")
    assert not result.ok and "第2位" in result.error


def test_credit_code_region_must_be_digits():
    result = check_credit_code("9135A100M000100Y43")
    assert not result.ok and "第3至8位" in result.error


def test_credit_code_bad_organisation_code_check_character():
    # Position 17 of 91350100M000100Y43 is "4"; a "5" breaks the GB 11714 check.
    result = check_credit_code("91350100M000100Y53")
    assert not result.ok and "第9至17位" in result.error


def test_credit_code_bad_last_character_does_not_reveal_the_right_one():
    result = check_credit_code("91350100M000100Y44")
    assert not result.ok and "最后一位" in result.error
    assert "3" not in result.error  # the correct check character is 3


def test_organisation_code_check_maps_10_to_x_and_11_to_0():
    # Synthetic codes (built for this test) so that position 17 exercises both special
    # remainders; the first embeds D2143569-X, the worked example of GB 11714.
    assert check_credit_code("91350100D2143569XA").ok      # remainder 10 → X
    assert check_credit_code("91350100MA000004XJ").ok      # remainder 10 → X
    assert check_credit_code("91350100MA0000090X").ok      # remainder 11 → 0
    assert not check_credit_code("91350100MA0000040J").ok  # X typed as 0
    assert not check_credit_code("91350100MA000009XX").ok  # 0 typed as X


def test_credit_code_early_pilot_code_that_fails_the_check_is_rejected():
    # hutool documents this real-world pilot code as not conforming to GB 32100.
    assert not check_credit_code("91350211M00013FA1N").ok


def test_single_typo_anywhere_is_caught():
    code = "91110000MA01A7RH2R"
    for position in range(2, 18):  # positions 1-2 have their own checks
        for replacement in CREDIT_CODE_CHARS:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1:]
            assert not check_credit_code(typo).ok, typo


# -- project code ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "2020-330327-48-01-167360",
    "20203303274801167360",
    "２０２０－３３０３２７－４８－０１－１６７３６０",
    "2020—330327—48—01—167360",
    " 2020 - 330327 - 48 - 01 - 167360 ",
])
def test_legacy_project_code_with_or_without_hyphens(text):
    assert check_project_code(text, today=TODAY) == Check(True, "2020-330327-48-01-167360", None)


@pytest.mark.parametrize("code", [
    "2020-451421-88-03-016343",  # published 备案 code, legacy format
    "2111-522323-04-01-342068",  # published current-format codes (YYMM time code)
    "2411-130202-89-01-637015",
    "2603-141124-89-05-346948",
])
def test_published_project_codes_are_valid(code):
    assert check_project_code(code, today=TODAY).value == code
    assert check_project_code(code.replace("-", ""), today=TODAY).value == code


def test_project_code_wrong_total_length_without_hyphens():
    result = check_project_code("2020330327480116736", today=TODAY)
    assert not result.ok and "20位" in result.error and "19位" in result.error


def test_project_code_mis_cut_segment_is_named():
    result = check_project_code("2020-33032-748-01-167360", today=TODAY)
    assert not result.ok and "第2段" in result.error and "6位" in result.error and "5位" in result.error


def test_project_code_wrong_number_of_segments():
    result = check_project_code("2020-330327-48-01", today=TODAY)
    assert not result.ok and "5段" in result.error and "4段" in result.error


def test_project_code_letters_are_named_as_typed():
    result = check_project_code("2020-330327-48-01-16736a", today=TODAY)
    assert not result.ok and "“a”" in result.error


def test_legacy_project_type_must_be_approval_ratification_or_filing():
    result = check_project_code("2020-330327-48-04-167360", today=TODAY)
    assert not result.ok and "01（审批）" in result.error and "“04”" in result.error


@pytest.mark.parametrize("prefix", ["2013", "1999", "2028", "2113", "2000", "2800"])
def test_project_code_time_prefix_out_of_range(prefix):
    result = check_project_code(prefix + "-330327-48-01-167360", today=TODAY)
    assert not result.ok and "前4位" in result.error


def test_project_code_year_bound_follows_today():
    assert check_project_code("2027-330327-48-01-167360", today=TODAY).ok
    assert not check_project_code("2027-330327-48-01-167360", today=date(2025, 6, 1)).ok
    assert check_project_code("2812-330327-48-01-167360", today=date(2027, 1, 5)).ok


def test_project_code_empty():
    assert "项目代码" in check_project_code("", today=TODAY).error


# -- phone --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("86 13800138000", "13800138000"),
    ("008613800138000", "13800138000"),
    ("１９９１２３４５６７８", "19912345678"),
    ("0591-87654321", "0591-87654321"),
    ("0591 8765 4321", "0591-87654321"),
    ("(0591)87654321", "0591-87654321"),
    ("（０５９１）８７６５４３２１", "0591-87654321"),
    ("059187654321", "0591-87654321"),
    ("020-87654321", "020-87654321"),
    ("010-6512345", "010-6512345"),
    ("+86 591 87654321", "0591-87654321"),
    ("010-65123456-123", "010-65123456-123"),
    ("010-65123456转123", "010-65123456-123"),
    ("010-65123456 ext. 123", "010-65123456-123"),
])
def test_valid_phones_are_normalised(text, expected):
    assert check_phone(text) == Check(True, expected, None)


def test_mobile_with_wrong_length():
    result = check_phone("1380013800")
    assert not result.ok and "11位" in result.error and "10位" in result.error


def test_mobile_with_impossible_second_digit():
    result = check_phone("12800138000")
    assert not result.ok and "第2位" in result.error


def test_landline_without_area_code():
    result = check_phone("87654321")
    assert not result.ok and "区号" in result.error


def test_phone_with_letters():
    result = check_phone("138abc")
    assert not result.ok and "“a”" in result.error


@pytest.mark.parametrize("text", ["", "0591-1234567", "0591-876543210", "12345", "13800138000-12"])
def test_invalid_phones(text):
    result = check_phone(text)
    assert not result.ok and result.value is None and result.error


# -- maskers ------------------------------------------------------------------------------------

def test_mask_credit_code_keeps_only_head_and_tail():
    masked = mask_credit_code("91350100M000100Y43")
    assert masked == "9135************43"
    assert len(masked) == 18 and "M000100" not in masked


def test_mask_phone():
    assert mask_phone("138 0013 8000") == "138****8000"
    assert mask_phone("0591-87654321") == "0591-****4321"
    assert mask_phone("010-65123456-123") == "010-****3456"


@pytest.mark.parametrize("masker", [mask_credit_code, mask_phone])
@pytest.mark.parametrize("junk", ["", "ab", "not a number at all", None])
def test_maskers_never_raise_or_leak_short_input(masker, junk):
    masked = masker(junk)
    assert isinstance(masked, str)
    if junk and len(junk) <= 4:
        assert set(masked) <= {"*"}


# -- case numbers: one parser for the chat (dialogs.nlu) and the console ---------------------

@pytest.mark.parametrize("typed", ["BD-2026-000123", "bd-2026-000123", " bd 2026 000123 ", "bd2026000123",
                                   "BD－２０２６－０００１２３", "ｂｄ　２０２６　０００１２３", "Bd.2026.000123", "BD—2026—000123"])
def test_a_case_number_as_people_type_it(typed):
    assert case_number(typed) == "BD-2026-000123"
    assert find_case_number(f"查一下{typed}的进度") == "BD-2026-000123"


@pytest.mark.parametrize("typed, meant", [("bd-1999-1", "BD-1999-1"), ("  xyz ", "XYZ"), ("", ""),
                                          ("BD-2026-0001234", "BD-2026-0001234")])
def test_what_is_not_a_case_number_stays_what_was_typed(typed, meant):
    assert case_number(typed) == meant
    assert find_case_number(typed) is None

