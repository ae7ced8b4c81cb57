"""``bulk-provision validate`` run in-process: exit codes, the printed summary, the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator

HEADER = "Employee ID,Glance Address,Password,First Name,Email,AudioProvider,Role,Cost Centre"
GOOD_ROWS = [
    "00123,jane.doe.example.glance.net,Secret-Pass1,Jane,jane@example.com,1,Agent,=1+2",
    "00124,john.roe.example.glance.net,,John,john@example.com,,,@SUM(A1)",
]
BAD_ROWS = [
    "00125,bad address.glance.net,Pw1x5,Zoë,zoe@,2,Boss,+33",
    "00123,JANE.DOE.example.glance.net,,Dup,dup@example.com,,,-x",
    "00127,ok.example.glance.net,Tiny1,Al,al@example.com,666,agent,",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bad_roster(tmp_path: Path) -> Path:
    # The blank line is dropped by the reader; the rows after it keep their own numbers.
    return write_csv(tmp_path / "staff.csv", [*GOOD_ROWS, "", *BAD_ROWS])


def test_valid_roster_exits_0_with_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "staff.csv", GOOD_ROWS)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"Roster: {path}", "Rows: 2  valid: 2  invalid: 0"]
    assert err == ""


def test_invalid_roster_exits_3_with_problems_grouped_by_rule(
    bad_roster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(bad_roster), "--roles", "Agent, Supervisor"]) == 3
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        f"Roster: {bad_roster}",
        "Rows: 5  valid: 1  invalid: 4",
        "Problems:",
        "  PartnerUserID.unique       2 rows  (rows 2, 6)  "
        "PartnerUserID 00123 also appears in row 6",
        "  UserAddress.unique         2 rows  (rows 2, 6)  "
        "UserAddress jane.doe.example.glance.net also appears in row 6",
        "  UserPW.length              2 rows  (rows 5, 7)  "
        "UserPW must be at least 8 characters (has 5)",
        "  AudioProvider.value         1 row  (row 5)  "
        "AudioProvider must be empty or one of 1, 666 (found '2')",
        "  UserAddress.characters      1 row  (row 5)  "
        "UserAddress may contain only letters, digits, '.' and '-' (found ' ')",
        "  UserEmail.format            1 row  (row 5)  "
        "UserEmail 'zoe@' is not a valid email address",
        "  UserRole.known              1 row  (row 5)  "
        "UserRole 'Boss' is not a known role (known: Agent, Supervisor, -none-)",
    ]


def test_duplicate_rows_listed_in_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"7,u{i}.glance.net" for i in range(7)]
    path = write_csv(tmp_path / "dups.csv", rows, header="PartnerUserID,UserAddress")
    assert main(["validate", str(path)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "Rows: 7  valid: 0  invalid: 7"
    assert lines[3] == (
        "  PartnerUserID.unique     7 rows  (rows 2, 3, 4, 5, 6, ...)  "
        "PartnerUserID 7 also appears in rows 3, 4, 5, 6, 7, 8"
    )


def test_without_roles_any_role_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "r.csv", ["1,a.glance.net,Whatever Role"],
                     header="PartnerUserID,UserAddress,UserRole")
    assert main(["validate", str(path)]) == 0
    assert main(["validate", str(path), "--roles", "Agent"]) == 3
    assert "UserRole.known" in capsys.readouterr().out


def test_password_is_never_printed(bad_roster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", str(bad_roster)])
    out, err = capsys.readouterr()
    for secret in ("Pw1x5", "Tiny1", "Secret-Pass1"):
        assert secret not in out + err


def test_missing_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "nope.csv")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("bulk-provision: error: roster ") and "does not exist" in err


def test_missing_required_column_exits_2_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "r.csv", ["1,a.glance.net"], header="Employe ID,Glance Address")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (
        'bulk-provision: error: r.csv has no PartnerUserID column (did you mean "Employe ID"'
        " for PartnerUserID? Headers found: Employe ID, Glance Address). Rename the header or map"
        " it with --columns\n"
    )


def test_columns_map_renames_a_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "r.csv", ["1,a.glance.net"], header="Staff No,Glance Address")
    mapping = tmp_path / "cols.toml"
    mapping.write_text('"Staff No" = "PartnerUserID"\n', encoding="utf-8")
    assert main(["validate", str(path), "--columns", str(mapping)]) == 0


def test_report_must_be_xlsx(bad_roster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(bad_roster), "--report", str(bad_roster.with_suffix(".txt"))]) == 2
    assert "name it .xlsx" in capsys.readouterr().err


def test_empty_roles_option_is_a_usage_error(
    bad_roster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(bad_roster), "--roles", " , "]) == 2
    assert "--roles needs at least one role name" in capsys.readouterr().err


def test_excel_roster_with_sheet_and_number_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Intro"
    ws = wb.create_sheet("Staff")
    ws.append(["PartnerUserID", "UserAddress"])
    ws.append([1234, "a.glance.net"])
    path = tmp_path / "staff.xlsx"
    wb.save(path)
    assert main(["validate", str(path), "--sheet", "Staff"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"Roster: {path} (sheet Staff)", "Rows: 1  valid: 1  invalid: 0"]
    assert lines[2].startswith("Warnings: 1 cell was stored as numbers or dates")
    assert lines[3].startswith("  row 2, PartnerUserID")


def test_help_documents_schema_roles_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["validate", "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "build_schema(roles) -> pandera.pandas.DataFrameSchema" in out
    assert "bulk-provision validate staff.xlsx --roles Agent,Supervisor --report" in out


def test_schema_file_replaces_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "strict.py"
    rules.write_text(
        "from schemas import checks\n"
        "from schemas.roster import build_schema as standard\n\n"
        "def build_schema(roles):\n"
        "    schema = standard(roles)\n"
        "    column = schema.columns['UserFirst']\n"
        "    column.checks.append(checks.required('UserFirst').check())\n"
        "    return schema\n"
    )
    header = "PartnerUserID,UserAddress,UserFirst"
    path = write_csv(tmp_path / "r.csv", ["1,a.glance.net,"], header=header)
    assert main(["validate", str(path)]) == 0
    assert main(["validate", str(path), "--schema", str(rules)]) == 3
    assert "UserFirst.required" in capsys.readouterr().out


def test_bad_schema_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "r.csv", ["1,a.glance.net"], header="PartnerUserID,UserAddress")
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_type: dataframe\n", encoding="utf-8")
    assert main(["validate", str(path), "--schema", str(rules)]) == 2
    assert capsys.readouterr().err == (
        f"bulk-provision: error: --schema {rules}: expected an existing Python file (.py)\n"
    )


STRICT_SCHEMA = '''
import pandera.pandas as pa
from schemas.roster import build_schema as standard


def build_schema(roles):
    return standard(roles).add_columns(
        {"UserEmail": pa.Column(str, pa.Check(lambda s: s.str.endswith("@corp.example"),
                                             name="corp_email"))})
'''


@pytest.mark.parametrize("command", ["plan", "run"])
def test_plan_and_run_validate_with_the_same_schema_file_as_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    simulator: Simulator, use_sim: Callable[..., None], command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    use_sim(simulator)
    roster = write_csv(tmp_path / "staff.csv", GOOD_ROWS)
    (tmp_path / "strict.py").write_text(STRICT_SCHEMA, encoding="utf-8")
    assert main([command, str(roster), "--schema", "strict.py"]) == 3
    captured = capsys.readouterr()
    assert "corp_email" in captured.out + captured.err
    assert main(["validate", str(roster), "--schema", "strict.py"]) == 3
    assert not [r for r in simulator.request_log if r.committed]  # nothing was changed


@pytest.mark.parametrize("option", ["--schema", "--columns"])
def test_a_rules_or_columns_file_others_can_change_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    option: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    roster = write_csv(tmp_path / "staff.csv", GOOD_ROWS)
    shared = tmp_path / ("evil.py" if option == "--schema" else "map.toml")
    shared.write_text('open("ran.txt", "w").write("ran")\n' if option == "--schema"
                      else '"Cost Centre" = "UserRole"\n', encoding="utf-8")
    shared.chmod(0o666)
    assert main(["validate", str(roster), option, shared.name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other users can change it (mode 666)" in err[0]
    assert not (tmp_path / "ran.txt").exists()
