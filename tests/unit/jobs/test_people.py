"""People, not keys: plans and runs as the people they concern, searched and paged."""

from __future__ import annotations

from pathlib import Path

from bulk_provision.glance.models import AudioCodes, GlanceUser
from bulk_provision.jobs.people import Person, page_of, plan_people, run_people
from bulk_provision.model import Action, ActionKind, Outcome, RowResult
from bulk_provision.roster.read import read_roster


def roster(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.csv"
    path.write_text("PartnerUserID,UserAddress,UserFirst,UserLast,UserEmail\n"
                    "1,ann.demo.glance.net,Ann,Lee,ann@x.com\n"
                    "2,bo.demo.glance.net,Bo,Ng,bo@x.com\n", encoding="utf-8")
    return read_roster(path)


def test_a_plan_names_its_people_from_the_roster_and_from_glance(tmp_path: Path) -> None:
    actions = [
        Action("1", 2, ActionKind.CREATE, {"UserAddress": "ann.demo.glance.net"}),
        Action("2", 3, ActionKind.UPDATE, {"UserFirst": "Bo"},
               changes={"UserFirst": ("Bob", "Bo"), "UserAddress": ("x", "x")}),
        Action("9", None, ActionKind.SUSPEND, {"UserSuspended": "1"},
               changes={"UserSuspended": ("0", "1"), "UserAddress": ("cy.g.net", "cy.g.net")}),
    ]
    glance = {"9": GlanceUser("9", "cy.g.net", "Cy", "Ho", "cy@x.com")}
    people = plan_people(actions, roster(tmp_path), glance)
    assert [(p.tab, p.name, p.email) for p in people] == [
        ("create", "Ann Lee", "ann@x.com"), ("update", "Bo Ng", "bo@x.com"),
        ("suspend", "Cy Ho", "cy@x.com")]
    assert people[1].changes == (("First name", "Bob", "Bo"),)  # an unchanged field never shows
    assert people[2].address == "cy.g.net" and people[2].changes == ()


def test_a_run_shows_outcomes_codes_and_the_rows_validation_held_back(tmp_path: Path) -> None:
    results = [RowResult("1", 2, ActionKind.CREATE, Outcome.CREATED,
                         audio=AudioCodes("555", "*1", "1"))]
    people = run_people(results, roster(tmp_path), invalid={3: "UserEmail is not valid"})
    assert [(p.tab, p.name, p.key, p.message) for p in people] == [
        ("invalid", "Bo Ng", "2", "UserEmail is not valid"), ("created", "Ann Lee", "1", "")]
    assert people[1].codes == ("555", "*1", "1")
    assert Person.from_record(people[1].record()) == people[1]


def test_a_page_searches_name_email_and_id_and_counts_every_tab() -> None:
    people = [Person("create" if i % 3 else "suspend", i, f"{i:05d}", f"Person {i}",
                     f"p{i}@x.com", f"p{i}.g.net") for i in range(1000)]
    first = page_of(people, tab="create", limit=50)
    assert first.total == 666 and len(first.people) == 50 and first.counts == {
        "create": 666, "suspend": 334}
    assert page_of(people, tab="create", offset=650, limit=50).people[-1].key == "00998"
    found = page_of(people, query="PERSON 99", limit=100)
    assert {p.row for p in found.people} == {i for i in range(1000) if "99" in str(i)}
    assert page_of(people, query="p7@x.com").total == 1
    assert page_of(people, query="00042").people[0].name == "Person 42"
    assert page_of(people, tab="create", offset=10**9).offset == 665
