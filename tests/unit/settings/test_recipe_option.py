"""``--recipe`` as a setting: from the option or the config file, refused with --columns, and
refused when another user may change it (a recipe decides who is suspended)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import ConfigError, UsageError
from bulk_provision.settings.config import Settings
from bulk_provision.settings.spec import JobSpec

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "acme.recipe.toml"
    shutil.copy(SAMPLES / "hr_export.recipe.toml", path)
    path.chmod(0o600)
    return path


def test_the_option_and_the_config_file_give_the_same_recipe(recipe: Path) -> None:
    given = JobSpec.from_settings({"roster": "x.csv", "recipe": recipe}, Settings(), {})
    configured = JobSpec.from_settings({"roster": "x.csv"},
                                       Settings(values={"recipe": str(recipe)}), {})
    assert given.recipe is not None and configured.recipe is not None
    assert given.recipe.sha256 == configured.recipe.sha256
    assert given.reading is given.recipe


def test_columns_and_recipe_together_are_refused(recipe: Path, tmp_path: Path) -> None:
    columns = tmp_path / "map.toml"
    columns.write_text('"Staff" = "PartnerUserID"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="--columns and --recipe both say"):
        JobSpec.from_settings({"roster": "x.csv", "recipe": recipe, "columns": columns},
                              Settings(), {})


@pytest.mark.skipif(os.name == "nt", reason="mode bits: the Windows rule is tested elsewhere")
def test_a_recipe_others_may_change_is_refused(
    recipe: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    recipe.chmod(0o666)
    with pytest.raises(ConfigError, match="--recipe file"):
        JobSpec.from_settings({"roster": "x.csv", "recipe": recipe}, Settings(), {})
    code = main(["validate", str(SAMPLES / "hr_export.csv"), "--recipe", str(recipe)])
    assert code == 2 and "--recipe file" in capsys.readouterr().err


def test_a_report_over_the_recipe_is_refused(
    recipe: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Even a recipe oddly named .xlsx is an input: no report is ever written over it."""
    odd = recipe.rename(recipe.with_name("recipe.xlsx"))
    code = main(["validate", str(SAMPLES / "hr_export.csv"), "--recipe", str(odd),
                 "--report", str(odd)])
    assert code == 2 and "the recipe" in capsys.readouterr().err
    assert odd.read_text(encoding="utf-8").startswith("# How sample_data/hr_export.csv")


def test_a_recipe_given_to_columns_says_to_give_it_with_recipe(
    recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    export = str(SAMPLES / "hr_export.csv")
    assert main(["validate", export, "--columns", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err == ("bulk-provision: error: acme.recipe.toml is a recipe (it has [compute]): give "
                   "it with --recipe, not --columns\n")
    only_columns = tmp_path / "only.toml"
    only_columns.write_text('[columns]\nPartnerUserID = "Employee ID"\n', encoding="utf-8")
    only_columns.chmod(0o600)
    assert main(["validate", export, "--columns", str(only_columns)]) == 2
    assert "reads Glance field = header, as a recipe's [columns] does: give it with --recipe" \
        in capsys.readouterr().err


def test_a_missing_field_while_a_recipe_reads_says_where_in_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[columns]\nPartnerUserID = "Employee ID"\nUserFirst = "Preferred First '
                    'Name"\n[ignore]\ncolumns = ["Last Name", "Work Email", "Department", '
                    '"Status", "Start Date"]\n', encoding="utf-8")
    path.chmod(0o600)
    assert main(["validate", str(SAMPLES / "hr_export.csv"), "--recipe", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bulk-provision: error: hr_export.csv has no UserAddress column")
    assert err.endswith(". Name its header in the recipe's [columns] table, or build it under "
                        "[compute]\n") and "--columns" not in err
