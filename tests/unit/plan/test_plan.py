import pandas as pd

from bulk_provision.model import ActionKind
from bulk_provision.plan.actions import plan_create, row_records


def frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, dtype=object).fillna("")
    df.index = range(2, 2 + len(rows))
    return df


def test_create_plan_sends_only_filled_fields_and_never_holds_a_password() -> None:
    df = frame(
        [
            {"PartnerUserID": "00123", "UserAddress": "a.demo.glance.net", "UserPW": "s3cret-pw!",
             "UserFirst": "Zoë", "UserLast": "", "AudioProvider": "666", "Notes": "x"},
            {"PartnerUserID": "7", "UserAddress": "b.demo.glance.net", "UserPW": "",
             "UserFirst": "", "UserLast": "B", "AudioProvider": "", "Notes": ""},
        ]
    )
    actions = plan_create(df, [2, 3], audio_provider="1")
    assert [a.key for a in actions] == ["00123", "7"]
    assert actions[0].fields == {
        "UserAddress": "a.demo.glance.net", "UserFirst": "Zoë", "AudioProvider": "666",
    }
    assert actions[0].send_password is True
    assert actions[1].fields == {
        "UserAddress": "b.demo.glance.net", "UserLast": "B", "AudioProvider": "1",
    }
    assert actions[1].send_password is False
    assert all("s3cret-pw!" not in repr(a) for a in actions)


def test_row_action_column_overrides_create_mode() -> None:
    df = frame(
        [
            {"PartnerUserID": "1", "UserAddress": "a.x", "Action": "Suspend"},
            {"PartnerUserID": "2", "UserAddress": "b.x", "Action": "reinstate"},
            {"PartnerUserID": "3", "UserAddress": "c.x", "Action": "delete"},
            {"PartnerUserID": "4", "UserAddress": "d.x", "Action": "update"},
            {"PartnerUserID": "5", "UserAddress": "e.x", "Action": ""},
        ]
    )
    actions = plan_create(df, [2, 3, 4, 5, 6])
    assert [a.kind for a in actions] == [
        ActionKind.SUSPEND, ActionKind.REINSTATE, ActionKind.DELETE, ActionKind.UPDATE,
        ActionKind.CREATE,
    ]
    assert actions[0].fields == {"UserSuspended": "1"}
    assert actions[1].fields == {"UserSuspended": "0"}
    assert actions[2].fields == {}
    assert actions[3].fields == {"UserAddress": "d.x"}


def test_only_the_given_rows_are_planned() -> None:
    df = frame([{"PartnerUserID": str(i), "UserAddress": f"u{i}.x"} for i in range(5)])
    assert [a.row for a in plan_create(df, [3, 5])] == [3, 5]


def test_row_records_are_the_frames_rows_in_the_order_asked() -> None:
    frame = pd.DataFrame({"PartnerUserID": ["a", "b", "c"], "UserFirst": ["Ann", "", "Cy"],
                          "Notes": pd.array(["x", None, "z"], dtype="string")},
                         index=[2, 3, 5])
    expected = frame.to_dict("index")
    got = list(row_records(frame, [5, 2]))
    assert got == [(5, expected[5]), (2, expected[2])]
    assert [type(v) for v in got[0][1].values()] == [str, str, str]
    assert list(row_records(frame, [3]))[0][1]["Notes"] is pd.NA
