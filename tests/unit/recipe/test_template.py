"""The template language: parsed once, closed (nothing evaluated), its filters, hard letters."""

from __future__ import annotations

import pytest

from bulk_provision.recipe.fold import fold
from bulk_provision.recipe.template import (
    FILTERS,
    MAX_FILTERS,
    Hole,
    TemplateError,
    apply_all,
    parse,
)


def render(text: str, **values: str) -> str:
    return parse(text).render(values)


@pytest.mark.parametrize(("name", "folded"), [
    ("Müller", "Muller"), ("Łukasz", "Lukasz"), ("Škoda", "Skoda"), ("Aßmann", "Assmann"),
    ("Ørsted", "Orsted"), ("søren", "soren"), ("Yıldız", "Yildiz"), ("Ærøskøbing", "AEroskobing"),
    ("Œuvre", "OEuvre"), ("Đorđe", "Dorde"), ("Þór", "Thor"), ("José Núñez", "Jose Nunez"),
    ("ﬁnn", "finn"), ("Zoë", "Zoe"), ("Straße", "Strasse"), ("Ħal", "Hal"),
])
def test_ascii_folds_accents_and_the_letters_unicode_does_not_decompose(
    name: str, folded: str,
) -> None:
    assert fold(name) == folded
    assert render("{n|ascii}", n=name) == folded


def test_ascii_drops_what_has_no_latin_spelling() -> None:
    assert fold("Иван 李 🎉x") == "  x"


def test_every_filter() -> None:
    assert render("{v|lower}", v="ÄB") == "äb"
    assert render("{v|upper}", v="ab") == "AB"
    assert render("{v|trim}", v="  a b  ") == "a b"
    assert render("{v|slug}", v=" Mary-Ann  O'Brien ") == "mary.ann.o.brien"
    assert render("{v|slug}", v="Günther Ölz") == "gunther.olz"
    assert render("{v|local}", v="ann.lee@example.com") == "ann.lee"
    assert render("{v|local}", v="no-at-sign") == "no-at-sign"
    assert render("{v|initial}", v="  Ann") == "A"
    assert render("{v|initial}", v="") == ""
    assert render("{v|digits}", v="E-10231/7") == "102317"
    assert set(FILTERS) == {"lower", "upper", "trim", "ascii", "slug", "local", "initial",
                            "digits"}


def test_filters_apply_left_to_right() -> None:
    assert render("{v|local|upper|initial}", v="zoe@x") == "Z"
    assert render("{v|initial|lower}", v="Łukasz") == "ł"
    assert render("{v|ascii|initial|lower}", v="Łukasz") == "l"


def test_a_template_is_literal_text_and_holes_in_order() -> None:
    template = parse("{UserFirst|ascii|lower}.{UserLast|slug}.acme.glance.net")
    assert template.parts == (Hole("UserFirst", ("ascii", "lower")), ".",
                              Hole("UserLast", ("slug",)), ".acme.glance.net")
    assert template.fields == ("UserFirst", "UserLast")
    assert template.render({"UserFirst": "Zoë", "UserLast": "Fair Banks"}) == \
        "zoe.fair.banks.acme.glance.net"


def test_spaces_around_names_and_filters_and_headers_with_spaces() -> None:
    template = parse("{ Preferred First Name | lower }")
    assert template.holes == (Hole("Preferred First Name", ("lower",)),)


def test_doubled_braces_are_literal_braces() -> None:
    assert render("{{x}}-{v}", v="a") == "{x}-a"


@pytest.mark.parametrize(("text", "said"), [
    ("{UserFirst", "never closed"),
    ("a}b{v}", "without its {"),
    ("{}", "empty {}"),
    ("{|lower}", "empty {}"),
    ("{v|lowercase}", "unknown filter 'lowercase'"),
    ("{v|}", "unknown filter '(empty)'"),
    ("{v|lower()}", "unknown filter 'lower()'"),
    ("{a{b}}", "inside a {field}"),
    ("plain.text", "has no {field}"),
    ("{v|" + "|".join(["lower"] * 10_000) + "}", "at most"),
    ("{v}" * 21, "more than 20"),
    ("x" * 2000 + "{v}", "at most 1,000"),
])
def test_broken_templates_say_what_is_wrong(text: str, said: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    assert said in str(caught.value)


@pytest.mark.parametrize("trick", ["{0.__class__}", "{v.__globals__}", "{v[0]}", "{v!r}",
                                   "{v:>10}", "{__import__('os')}", "{PATH}", "{HOME}"])
def test_format_string_tricks_are_only_names_never_evaluated(trick: str) -> None:
    """A hole is a name and nothing else: no attribute, index, conversion or format spec is
    ever applied; rendering looks the whole text up as a field (and a recipe refuses a field
    the export does not have)."""
    template = parse(trick)
    (hole,) = template.holes
    assert hole.filters == ()
    assert template.render({hole.field: "plain"}) == "plain"
    with pytest.raises(KeyError):
        template.render({"v": "x", "PATH": "x", "HOME": "x"} if hole.field not in
                        ("v", "PATH", "HOME") else {})


def test_max_filters_is_allowed_one_more_is_not() -> None:
    parse("{v|" + "|".join(["trim"] * MAX_FILTERS) + "}")
    with pytest.raises(TemplateError):
        parse("{v|" + "|".join(["trim"] * (MAX_FILTERS + 1)) + "}")


@pytest.mark.parametrize("filters", [
    ("ascii",), ("slug",), ("lower",), ("upper",), ("trim",), ("local",), ("initial",),
    ("digits",), ("ascii", "lower"), ("local", "slug"), ("trim", "initial", "lower"),
    ("digits", "initial"), ("slug", "upper", "initial"),
])
def test_a_whole_column_filters_exactly_as_one_value_at_a_time(filters: tuple[str, ...]) -> None:
    import random

    rng = random.Random(7)
    alphabet = "aZ09 .-_@'ÄöüßØŁłıæŒÉ\u0301\u0308\tΣσς李 \u00a0\u2028x"
    values = ["", " ", "@", "..", "ann@x", " Łukasz ", "\u0301e", "O'Neill", "ΟΔΟΣ"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
               for _ in range(3000)]
    hole = Hole("v", filters)
    assert apply_all(hole, values) == [hole.apply(v) for v in values]


def test_a_cell_with_a_nul_is_filtered_one_by_one() -> None:
    hole = Hole("v", ("slug",))
    assert apply_all(hole, ["a\x00b", "Zoë"]) == ["a.b", "zoe"]
