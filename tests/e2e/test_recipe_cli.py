"""An HR export through a recipe, from the command line to the real simulator: validate, plan,
run in upsert and sync with leavers, run --plan, and what the request log proves was sent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from tests.e2e.test_sync import sim as sim  # noqa: F401 - the connected simulator fixture
from tests.webtools import SAMPLES
from tests.workbooks import sheet_rows

RECIPE = SAMPLES / "hr_export.recipe.toml"


@pytest.fixture
def export(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "hr_export.csv"
    shutil.copy(SAMPLES / "hr_export.csv", path)
    recipe = tmp_path / "acme.recipe.toml"
    shutil.copy(RECIPE, recipe)
    recipe.chmod(0o600)
    yield path


def run(*args: str) -> int:
    return main(["run", *args, "--rate", "0", "--no-progress"])


def writes(sim: Simulator) -> list[tuple[str, str, tuple[str, ...]]]:
    """The writes Glance received: operation, PartnerUserID, the parameters' names."""
    return [(r.operation, r.partner_user_id, r.fields) for r in sim.request_log
            if r.operation in ("NewUser", "UpdateUser", "DeleteUser")]


def outcomes(path: Path) -> dict[str, str]:
    return {str(r["Employee ID"]): str(r["Outcome"]) for r in sheet_rows(path)}


def test_upsert_creates_the_active_suspends_known_leavers_and_skips_unknown_ones(
    sim: Simulator, export: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    sim.add_user("E-10232", "siobhan.o.neill.demo.glance.net", user_first="Siobhán")
    sim.add_user("000418", "zoe.fairbanks.demo.glance.net", suspended=True)  # came back
    recipe = str(export.with_name("acme.recipe.toml"))
    assert main(["validate", str(export), "--recipe", recipe]) == 0
    said = capsys.readouterr().out
    assert "Recipe: acme.recipe.toml: 2 leavers" in said
    assert run(str(export), "--recipe", recipe, "--mode", "upsert", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["recipe"]["name"] == "acme.recipe.toml" and document["recipe"]["leavers"] == 2
    assert document["counts"]["skipped"] == 1 and document["counts"]["suspended"] == 1
    results = export.with_name("hr_export.results.xlsx")
    seen = outcomes(results)
    assert seen["E-10232"] == "suspended" and seen["E-10236"] == "skipped"
    assert seen["000418"] == "reinstated" and seen["E-10233"] == "created"
    sent = writes(sim)
    assert [(op, fields) for op, key, fields in sent if key == "E-10232"] == [
        ("UpdateUser", ("partneruserid", "usersuspended"))]  # suspended, nothing else touched
    assert not [w for w in sent if w[1] == "E-10236"]  # never created, never sent
    users = sim.users()
    assert users["E-10232"].suspended and not users["000418"].suspended
    assert "E-10236" not in users
    lukasz = users["E-10233"]
    assert (lukasz.user_address, lukasz.user_email, lukasz.user_role) == (
        "lukasz.wojcik.demo.glance.net", "lukasz.wojcik@example.com", "Agent")
    assert users["E-10235"].user_address == "jurgen.assmann.demo.glance.net"
    assert users["E-10235"].user_role == ""  # Finance: the recipe's default, no role
    book = openpyxl.load_workbook(results, read_only=True)
    summary = {str(a): b for a, b, *_ in book["Summary"].iter_rows(values_only=True)}
    book.close()
    assert str(summary["Recipe"]).startswith("acme.recipe.toml (SHA-256 ")


def test_sync_counts_leavers_against_max_suspend_and_a_plan_pins_the_recipe(
    sim: Simulator, export: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    for key, address in (("E-10232", "siobhan.o.neill"), ("E-10236", "tereza.skoda"),
                         ("X-1", "gone.person")):
        sim.add_user(key, f"{address}.demo.glance.net")
    recipe = str(export.with_name("acme.recipe.toml"))
    # 2 leavers + 1 user the export leaves out = 3 suspensions of 3 active users
    assert run(str(export), "--recipe", recipe, "--mode", "sync", "--max-suspend", "2") == 2
    refused = capsys.readouterr().err
    assert "sync would suspend 3 of 3 active users" in refused
    assert "2 of them are leavers by the recipe's [status] and 1 are missing" in refused
    assert writes(sim) == []
    plan = export.with_name("plan.xlsx")
    assert main(["plan", str(export), "--recipe", recipe, "--mode", "sync", "--max-suspend", "3",
                 "--out", str(plan)]) == 0
    other = export.with_name("other.recipe.toml")
    other.write_text(RECIPE.read_text(encoding="utf-8").replace('"Leaver"]', '"Leaver", '
                                                                  '"On Leave"]').replace(
        'active = ["Active", "On Leave"]', 'active = ["Active"]'), encoding="utf-8")
    other.chmod(0o600)
    capsys.readouterr()
    assert run(str(export), "--plan", str(plan), "--recipe", str(other)) == 2
    assert "was made with the recipe acme.recipe.toml" in capsys.readouterr().err
    assert run(str(export), "--plan", str(plan)) == 2  # no recipe: the rows read differently
    assert writes(sim) == []
    assert run(str(export), "--plan", str(plan), "--recipe", recipe, "--max-suspend", "3") == 0
    suspended = {key for key, user in sim.users().items() if user.suspended}
    assert suspended == {"E-10232", "E-10236", "X-1"}
    assert sim.created_counts()["E-10231"] == 1


def test_a_plan_skips_a_leaver_glance_does_not_know_and_run_plan_carries_it_out(
    sim: Simulator, export: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    sim.add_user("E-10232", "siobhan.o.neill.demo.glance.net")  # a known leaver
    recipe = str(export.with_name("acme.recipe.toml"))
    plan = export.with_name("plan.xlsx")
    for mode in ("upsert", "sync"):
        assert main(["plan", str(export), "--recipe", recipe, "--mode", mode,
                     "--max-suspend", "100%", "--out", str(plan)]) == 0
        actions = {str(r["PartnerUserID"]): str(r["Action"])
                   for r in sheet_rows(plan, "Plan")}
        assert actions["E-10236"].startswith("skip"), mode  # a leaver Glance does not know
        assert actions["E-10232"] == "suspend", mode
    said = capsys.readouterr().out
    assert f"--recipe {recipe}" in said  # the printed run command carries the recipe
    assert run(str(export), "--plan", str(plan), "--recipe", recipe,
               "--max-suspend", "100%") == 0
    assert "E-10236" not in sim.users()
    assert sim.users()["E-10232"].suspended


def test_resuming_a_recipes_run_without_the_recipe_says_to_give_it(
    export: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from bulk_provision.journal.checkpoint import Checkpoint
    from bulk_provision.model import Action, ActionKind
    from bulk_provision.roster.read import read_roster

    journal = export.with_name("hr_export.csv.checkpoint.sqlite")
    sha = read_roster(export).sha256
    with Checkpoint.open(journal, roster_sha256=sha, roster_path=str(export), mode="create",
                         recipe_sha256="ab" * 32) as open_run:
        open_run.record_plan([Action("E-10231", 2, ActionKind.CREATE, {})])
    assert run(str(export), "--checkpoint", str(journal)) == 2
    said = capsys.readouterr().err
    assert "holds an unfinished run made with a recipe (SHA-256 abababababab), and this run " \
        "has none: finish it with the same --recipe" in said
    assert "--columns" not in said


def test_a_recipe_without_status_says_nobody_is_a_leaver(
    export: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    recipe = export.with_name("plain.recipe.toml")
    text = RECIPE.read_text(encoding="utf-8")
    recipe.write_text(text[: text.index("[status]")] + '[ignore]\ncolumns = ["Status", '
                      '"Start Date", "Cost Centre"]\n', encoding="utf-8")
    recipe.chmod(0o600)
    main(["validate", str(export), "--recipe", str(recipe)])
    said = capsys.readouterr().out
    assert "Recipe: plain.recipe.toml (no [status]: nobody is treated as a leaver)" in said
    assert "0 leavers" not in said
