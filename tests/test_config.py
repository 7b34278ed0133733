"""Tests for lifecycle.config.model: loading, defaults and validation of the YAML configuration."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
import yaml

from lifecycle.config import (
    ConfigError,
    ConfigProblem,
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
    SyncConfig,
    check_config,
    config_warnings,
    load_config,
    parse_config,
)

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> tuple[ConfigProblem, ...]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def only_problem(tmp_path: Path, text: str) -> ConfigProblem:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    return problems[0]


# --- loading and defaults ---------------------------------------------------------------------


def test_shipped_config_loads_equals_defaults() -> None:
    assert load_config(SHIPPED_CONFIG) == LifecycleConfig()


def test_shipped_config_lists_every_key() -> None:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    defaults = LifecycleConfig()
    assert set(data) == {f.name for f in dataclasses.fields(LifecycleConfig)}
    for section, values in data.items():
        expected = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert set(values) == expected, section


def test_shipped_config_check_returns_no_problems() -> None:
    assert check_config(SHIPPED_CONFIG) == []


def test_load_config_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == LifecycleConfig()


def test_load_config_comments_only_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing set\n")) == LifecycleConfig()


def test_load_config_str_path_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "sync:\n  interval_s: 2\n")
    assert load_config(str(path)).sync.interval_s == 2.0


def test_load_config_partial_section_keeps_other_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "orders:\n  protection_s: 12.5\n"))
    assert config.orders == OrdersConfig(protection_s=12.5)
    assert config.sync == SyncConfig()
    assert config.reconciler == ReconcilerConfig()
    assert config.market == MarketConfig()


def test_load_config_empty_section_gives_section_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "orders:\nsync:\n")) == LifecycleConfig()


def test_load_config_all_values_set_parsed_into_types(tmp_path: Path) -> None:
    text = """
orders:
  expected_ttl_s: 20
  protection_s: 8.5
  tombstone_s: 4
  cancel_timeout_s: 25
  orphan_grace_s: 3
  orphan_policy: adopt
  namespace: mm1
  history_limit: 8
  fill_dedup_capacity: 500
sync:
  interval_s: 2
  snapshot_max_age_s: 4
  missing_snapshots: 2
  missing_min_s: 6
reconciler:
  level_tolerance_bps: [4, 8.5]
  latch_bps: 2
  latch_size_pct: 99.5
  max_modify_bps: 40
  drift_cancel_all_bps: 80
  min_modify_interval_ms: 250
  min_notional_usd: 12
  cross_margin_ticks: 0
  book_age_grace_s: 1
  book_stale_s: 3
market:
  coin: GOLD
  dex: xyz
"""
    config = load_config(write(tmp_path, text))
    assert config == LifecycleConfig(
        orders=OrdersConfig(
            expected_ttl_s=20.0,
            protection_s=8.5,
            tombstone_s=4.0,
            cancel_timeout_s=25.0,
            orphan_grace_s=3.0,
            orphan_policy=OrphanPolicy.ADOPT,
            namespace="mm1",
            history_limit=8,
            fill_dedup_capacity=500,
        ),
        sync=SyncConfig(
            interval_s=2.0, snapshot_max_age_s=4.0, missing_snapshots=2, missing_min_s=6
        ),
        reconciler=ReconcilerConfig(
            level_tolerance_bps=(4.0, 8.5),
            latch_bps=2.0,
            latch_size_pct=99.5,
            max_modify_bps=40.0,
            drift_cancel_all_bps=80.0,
            min_modify_interval_ms=250.0,
            min_notional_usd=12.0,
            cross_margin_ticks=0,
            book_age_grace_s=1.0,
            book_stale_s=3.0,
        ),
        market=MarketConfig(coin="GOLD", dex="xyz"),
    )
    assert type(config.orders.expected_ttl_s) is float
    assert type(config.reconciler.level_tolerance_bps[0]) is float
    assert type(config.orders.history_limit) is int
    assert config.orders.orphan_policy is OrphanPolicy.ADOPT


def test_parse_config_none_gives_defaults() -> None:
    assert parse_config(None) == LifecycleConfig()


def test_parse_config_enum_member_accepted() -> None:
    config = parse_config({"orders": {"orphan_policy": OrphanPolicy.IGNORE}})
    assert config.orders.orphan_policy is OrphanPolicy.IGNORE


def test_parse_config_tuple_tolerances_accepted() -> None:
    config = parse_config({"reconciler": {"level_tolerance_bps": (1, 2)}})
    assert config.reconciler.level_tolerance_bps == (1.0, 2.0)


# --- unknown names ----------------------------------------------------------------------------


def test_load_config_unknown_key_reports_path_with_hint(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  protecton_s: 10\n")
    assert problem.path == "orders.protecton_s"
    assert "unknown key" in problem.message
    assert "did you mean 'protection_s'?" in problem.message


def test_load_config_key_in_wrong_section_hints_right_section(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  interval_s: 5\n")
    assert problem.path == "orders.interval_s"
    assert "did you mean 'sync.interval_s'?" in problem.message


def test_load_config_unrelated_unknown_key_reports_without_hint(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  zzzzzz: 1\n")
    assert problem.path == "market.zzzzzz"
    assert problem.message == "unknown key"


def test_load_config_unknown_section_reports_path_with_hint(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "order:\n  protection_s: 10\n")
    assert problem.path == "order"
    assert "unknown section" in problem.message
    assert "did you mean 'orders'?" in problem.message


def test_load_config_unrelated_unknown_section_lists_sections(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "zzzzzz: {}\n")
    assert problem.path == "zzzzzz"
    assert "orders, sync, reconciler, market" in problem.message


def test_load_config_key_at_top_level_hints_its_section(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "coin: ETH\n")
    assert problem.path == "coin"
    assert "did you mean 'market.coin'?" in problem.message


# --- wrong types ------------------------------------------------------------------------------


def test_load_config_bool_for_float_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  protection_s: true\n")
    assert problem.path == "orders.protection_s"
    assert "expected a number" in problem.message
    assert "True" in problem.message


def test_load_config_string_for_float_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  interval_s: '5'\n")
    assert problem.path == "sync.interval_s"
    assert "expected a number" in problem.message
    assert "'5'" in problem.message


def test_load_config_empty_value_for_float_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  interval_s:\n")
    assert problem.path == "sync.interval_s"
    assert "expected a number" in problem.message


def test_load_config_string_for_int_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  history_limit: lots\n")
    assert problem.path == "orders.history_limit"
    assert "expected an integer" in problem.message
    assert "'lots'" in problem.message


def test_load_config_float_for_int_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  missing_snapshots: 3.0\n")
    assert problem.path == "sync.missing_snapshots"
    assert "expected an integer" in problem.message
    assert "3.0" in problem.message


def test_load_config_bool_for_int_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  cross_margin_ticks: false\n")
    assert problem.path == "reconciler.cross_margin_ticks"
    assert "expected an integer" in problem.message


def test_load_config_number_for_string_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  namespace: 7\n")
    assert problem.path == "orders.namespace"
    assert "expected a string" in problem.message
    assert "7" in problem.message


def test_load_config_unquoted_no_for_coin_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  coin: no\n")
    assert problem.path == "market.coin"
    assert "expected a string" in problem.message
    assert "quotes" in problem.message


def test_load_config_bad_orphan_policy_lists_allowed(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  orphan_policy: keep\n")
    assert problem.path == "orders.orphan_policy"
    assert "cancel, adopt, ignore" in problem.message
    assert "'keep'" in problem.message


def test_load_config_misspelt_orphan_policy_hints_value(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  orphan_policy: adpot\n")
    assert problem.path == "orders.orphan_policy"
    assert "did you mean 'adopt'?" in problem.message


def test_load_config_tolerance_not_list_reports_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  level_tolerance_bps: 5.0\n")
    assert problem.path == "reconciler.level_tolerance_bps"
    assert "list of numbers" in problem.message


def test_load_config_empty_tolerance_list_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  level_tolerance_bps: []\n")
    assert problem.path == "reconciler.level_tolerance_bps"
    assert "non-empty list" in problem.message


def test_load_config_bad_tolerance_element_reports_index(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  level_tolerance_bps: [5.0, wide, 22.5]\n")
    assert problem.path == "reconciler.level_tolerance_bps[1]"
    assert "expected a number" in problem.message
    assert "'wide'" in problem.message


def test_load_config_nonpositive_tolerance_element_reports_index(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  level_tolerance_bps: [0, 15.0]\n")
    assert problem.path == "reconciler.level_tolerance_bps[0]"
    assert problem.message == "must be > 0, got 0"


def test_load_config_every_bad_tolerance_element_reported(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "reconciler:\n  level_tolerance_bps: [true, -2, .nan]\n")
    assert [p.path for p in problems] == [
        "reconciler.level_tolerance_bps[0]",
        "reconciler.level_tolerance_bps[1]",
        "reconciler.level_tolerance_bps[2]",
    ]


# --- ranges -----------------------------------------------------------------------------------


def test_load_config_negative_duration_reports_must_be_positive(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  protection_s: -1\n")
    assert problem == ConfigProblem("orders.protection_s", "must be > 0, got -1")


def test_load_config_zero_duration_reports_must_be_positive(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  min_modify_interval_ms: 0\n")
    assert problem == ConfigProblem("reconciler.min_modify_interval_ms", "must be > 0, got 0")


@pytest.mark.parametrize(
    "path",
    [
        "orders.expected_ttl_s",
        "orders.tombstone_s",
        "orders.cancel_timeout_s",
        "orders.orphan_grace_s",
        "sync.interval_s",
        "sync.snapshot_max_age_s",
        "sync.missing_min_s",
        "reconciler.latch_bps",
        "reconciler.latch_size_pct",
        "reconciler.max_modify_bps",
        "reconciler.drift_cancel_all_bps",
        "reconciler.min_notional_usd",
        "reconciler.book_age_grace_s",
        "reconciler.book_stale_s",
    ],
)
def test_parse_config_zero_unit_key_reports_must_be_positive(path: str) -> None:
    section, key = path.split(".")
    with pytest.raises(ConfigError) as info:
        parse_config({section: {key: 0.0}})
    assert info.value.problems == (ConfigProblem(path, "must be > 0, got 0.0"),)


def test_load_config_nan_reports_not_finite(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  interval_s: .nan\n")
    assert problem.path == "sync.interval_s"
    assert "finite" in problem.message
    assert "nan" in problem.message


def test_load_config_infinity_reports_not_finite(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  tombstone_s: .inf\n")
    assert problem.path == "orders.tombstone_s"
    assert "finite" in problem.message


@pytest.mark.parametrize(
    ("section", "key"),
    [("orders", "history_limit"), ("orders", "fill_dedup_capacity"), ("sync", "missing_snapshots")],
)
def test_parse_config_zero_count_reports_at_least_one(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({section: {key: 0}})
    assert info.value.problems == (ConfigProblem(f"{section}.{key}", "must be >= 1, got 0"),)


def test_load_config_negative_cross_margin_reports_non_negative(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  cross_margin_ticks: -1\n")
    assert problem == ConfigProblem("reconciler.cross_margin_ticks", "must be >= 0, got -1")


def test_load_config_sz_decimals_out_of_range_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  sz_decimals: 7\n")
    assert problem.path == "market.sz_decimals" and "must be <= 6" in problem.message
    problem = only_problem(tmp_path, "market:\n  sz_decimals: -1\n")
    assert problem == ConfigProblem("market.sz_decimals", "must be >= 0, got -1")


def test_load_config_latch_size_100_pct_reports_below_100(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  latch_size_pct: 100\n")
    assert problem == ConfigProblem("reconciler.latch_size_pct", "must be < 100, got 100")


def test_load_config_empty_namespace_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "orders:\n  namespace: ''\n")
    assert problem.path == "orders.namespace"
    assert "non-empty" in problem.message


# --- combinations -----------------------------------------------------------------------------


def test_load_config_latch_not_below_max_modify_reports_both(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  latch_bps: 50\n")
    assert problem.path == "reconciler.latch_bps"
    assert "reconciler.max_modify_bps" in problem.message


def test_load_config_max_modify_not_below_drift_reports_both(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  max_modify_bps: 150\n")
    assert problem.path == "reconciler.max_modify_bps"
    assert "reconciler.drift_cancel_all_bps" in problem.message


def test_load_config_decreasing_tolerances_reports_index(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  level_tolerance_bps: [5.0, 15.0, 10.0]\n")
    assert problem.path == "reconciler.level_tolerance_bps[2]"
    assert "reconciler.level_tolerance_bps[1]" in problem.message
    assert "non-decreasing" in problem.message


def test_load_config_equal_tolerances_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "reconciler:\n  level_tolerance_bps: [5, 5, 5]\n"))
    assert config.reconciler.level_tolerance_bps == (5.0, 5.0, 5.0)


def test_load_config_book_grace_not_below_stale_reports_both(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  book_age_grace_s: 5.0\n")
    assert problem.path == "reconciler.book_age_grace_s"
    assert "reconciler.book_stale_s" in problem.message


def test_load_config_missing_min_below_interval_reports_both(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  interval_s: 20\n  snapshot_max_age_s: 30\n")
    assert problem.path == "sync.missing_min_s"
    assert "sync.interval_s" in problem.message


def test_load_config_snapshot_age_below_interval_reports_both(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync:\n  snapshot_max_age_s: 4\n")
    assert problem.path == "sync.snapshot_max_age_s"
    assert "sync.interval_s" in problem.message
    assert "too old" in problem.message


def test_load_config_combination_with_invalid_key_not_checked(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "reconciler:\n  latch_bps: 60\n  max_modify_bps: -1\n")
    assert problem.path == "reconciler.max_modify_bps"


def test_load_config_coin_prefix_differs_from_dex_reports_coin(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  coin: abc:GOLD\n  dex: xyz\n")
    assert problem.path == "market.coin"
    assert "market.dex" in problem.message


def test_load_config_empty_coin_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  coin: ''\n")
    assert problem.path == "market.coin"
    assert "non-empty" in problem.message


def test_load_config_dex_with_colon_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  dex: 'xyz:'\n")
    assert problem.path == "market.dex"
    assert "':'" in problem.message


def test_load_config_malformed_dex_coin_reports_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "market:\n  coin: ':GOLD'\n")
    assert problem.path == "market.coin"
    assert "DEX:COIN" in problem.message


# --- document shape and file errors -----------------------------------------------------------


def test_load_config_top_level_list_reports_root(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "- orders\n- sync\n")
    assert problem.path == "<root>"
    assert "mapping" in problem.message


def test_load_config_top_level_scalar_reports_root(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "just text\n")
    assert problem.path == "<root>"


def test_load_config_section_not_mapping_reports_section(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "sync: 5\n")
    assert problem.path == "sync"
    assert "mapping" in problem.message


def test_load_config_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "orders:\n  protection_s: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert str(path) in str(info.value)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].path == "<yaml>"
    assert "line" in info.value.problems[0].message


def test_load_config_duplicate_keys_name_each_path_and_both_lines(tmp_path: Path) -> None:
    text = """\
orders:
  protection_s: 3.0
  tombstone_s: 5.0
  protection_s: 4.0
sync:
  interval_s: -1.0
orders:
  history_limit: 8
"""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = {p.path: p.message for p in info.value.problems}
    assert problems["orders.protection_s"] == "duplicate key (line 2 and line 4); set it once"
    assert problems["orders"] == "duplicate key (line 1 and line 7); set it once"
    assert "sync.interval_s" in problems  # the other problems are reported too


def test_load_config_same_key_in_different_sections_is_no_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "orders:\n  protection_s: 3.0\nsync:\n  interval_s: 3.0\n")
    assert load_config(path).orders.protection_s == 3.0


def test_load_config_missing_file_names_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert str(path) in str(info.value)
    assert info.value.problems == (ConfigProblem("<file>", "file not found"),)


def test_load_config_directory_reports_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.problems[0].path == "<file>"


# --- several problems at once -----------------------------------------------------------------


def test_load_config_several_problems_all_reported_together(tmp_path: Path) -> None:
    text = """
orders:
  protecton_s: 10
  history_limit: 2.5
  orphan_policy: sometimes
sync:
  interval_s: -5
  snapshot_max_age_s: 1
reconciler:
  level_tolerance_bps: [5.0, x]
  latch_bps: 60
  book_age_grace_s: 9
market: [BTC]
extra: {}
"""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    paths = [problem.path for problem in info.value.problems]
    assert sorted(paths) == sorted(
        [
            "extra",
            "orders.protecton_s",
            "orders.history_limit",
            "orders.orphan_policy",
            "sync.interval_s",
            "reconciler.level_tolerance_bps[1]",
            "reconciler.latch_bps",
            "reconciler.book_age_grace_s",
            "market",
        ]
    )
    assert len(info.value.problems) == 9
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 9 problem(s)"
    assert lines[1:] == [f"  {p.path}: {p.message}" for p in info.value.problems]


def test_config_error_str_has_header_and_problem_lines() -> None:
    error = ConfigError("x.yaml", [ConfigProblem("a.b", "bad"), ConfigProblem("c", "worse")])
    assert str(error) == "x.yaml: 2 problem(s)\n  a.b: bad\n  c: worse"
    assert isinstance(error, ValueError)


def test_config_error_pickle_roundtrip_keeps_problems() -> None:
    error = ConfigError("x.yaml", [ConfigProblem("a.b", "bad")])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.source == "x.yaml"
    assert copy.problems == error.problems


def test_parse_config_default_source_in_message() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config([])
    assert str(info.value).startswith("<config>: 1 problem(s)")


def test_parse_config_custom_source_in_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"sync": {"interval_s": 0}}, source="inline")
    assert info.value.source == "inline"


# --- check_config -----------------------------------------------------------------------------


def test_check_config_bad_file_returns_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "orders:\n  protection_s: 0\n  tombstone_s: x\n")
    problems = check_config(path)
    assert [p.path for p in problems] == ["orders.protection_s", "orders.tombstone_s"]


def test_check_config_missing_file_returns_problem(tmp_path: Path) -> None:
    assert check_config(tmp_path / "absent.yaml") == [ConfigProblem("<file>", "file not found")]


def test_check_config_syntax_error_returns_problem(tmp_path: Path) -> None:
    problems = check_config(write(tmp_path, "orders: [\n"))
    assert [p.path for p in problems] == ["<yaml>"]


def test_check_config_valid_file_returns_empty_list(tmp_path: Path) -> None:
    assert check_config(write(tmp_path, "market:\n  coin: ETH\n")) == []


# --- coin_key ---------------------------------------------------------------------------------


def test_coin_key_without_dex_returns_coin() -> None:
    assert LifecycleConfig(market=MarketConfig(coin="ETH")).coin_key == "ETH"


def test_coin_key_with_dex_prefixes_coin() -> None:
    assert LifecycleConfig(market=MarketConfig(coin="GOLD", dex="xyz")).coin_key == "xyz:GOLD"


def test_coin_key_with_dex_and_prefixed_coin_returns_coin() -> None:
    config = LifecycleConfig(market=MarketConfig(coin="xyz:GOLD", dex="xyz"))
    assert config.coin_key == "xyz:GOLD"


def test_coin_key_loaded_with_dex_prefixes_coin(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "market:\n  coin: GOLD\n  dex: xyz\n"))
    assert config.coin_key == "xyz:GOLD"


# --- dataclasses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "attribute", "value"),
    [
        (LifecycleConfig(), "market", MarketConfig()),
        (OrdersConfig(), "protection_s", 1.0),
        (SyncConfig(), "interval_s", 1.0),
        (ReconcilerConfig(), "latch_bps", 1.0),
        (MarketConfig(), "coin", "ETH"),
        (ConfigProblem("a", "b"), "path", "c"),
    ],
)
def test_dataclass_assignment_raises_frozen(
    instance: object, attribute: str, value: object
) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, attribute, value)


def test_section_dataclasses_positional_arguments_rejected() -> None:
    with pytest.raises(TypeError):
        OrdersConfig(30.0)  # type: ignore[call-arg]


def test_orphan_policy_values_are_strings() -> None:
    assert [policy.value for policy in OrphanPolicy] == ["cancel", "adopt", "ignore"]
    assert OrphanPolicy("adopt") is OrphanPolicy.ADOPT
    assert isinstance(OrphanPolicy.CANCEL, str)


# --- documents that must not reach the YAML constructors --------------------------------------


def test_check_config_recursive_alias_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "recursive.yaml"
    path.write_text("orders: &a\n  namespace: x\n  nested: *a\n", encoding="utf-8")
    problems = check_config(path)
    assert [p.path for p in problems] == ["<yaml>"]
    assert "recursive alias (line 1)" in problems[0].message


def test_check_config_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    # Nine levels of nine aliases expand to 9**9 values: a few hundred bytes.
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(path.read_bytes()) < 500
    problems = check_config(path)
    assert [p.path for p in problems] == ["<yaml>"]
    assert "expands to more than 10000 values" in problems[0].message


def test_load_config_plain_anchor_within_budget_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "reconciler:\n  level_tolerance_bps: &t [5, 15, 22.5]\n", encoding="utf-8"
    )
    assert load_config(path).reconciler.level_tolerance_bps == (5.0, 15.0, 22.5)


# --- sections built in code, and warnings -------------------------------------------------


def test_section_built_in_code_refuses_what_a_file_refuses_with_key_paths() -> None:
    with pytest.raises(ConfigError) as info:
        ReconcilerConfig(latch_bps=-1.0, level_tolerance_bps=(15.0, 5.0), cross_margin_ticks=-2)
    assert str(info.value).startswith("ReconcilerConfig: 3 problem(s)")
    assert [p.path for p in info.value.problems] == [
        "reconciler.latch_bps",
        "reconciler.cross_margin_ticks",
        "reconciler.level_tolerance_bps[1]",
    ]


def test_replace_checks_the_new_section_too() -> None:
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(SyncConfig(), missing_min_s=1.0)
    assert [p.path for p in info.value.problems] == ["sync.missing_min_s"]
    with pytest.raises(ConfigError):
        dataclasses.replace(MarketConfig(), coin="abc:ETH", dex="xyz")


def test_combination_with_a_refused_key_is_not_reported_twice_in_code() -> None:
    with pytest.raises(ConfigError) as info:
        ReconcilerConfig(max_modify_bps="wide")  # type: ignore[arg-type]
    assert [p.path for p in info.value.problems] == ["reconciler.max_modify_bps"]


def test_section_built_in_code_stores_values_as_the_loader_makes_them(tmp_path: Path) -> None:
    built = LifecycleConfig(
        orders=OrdersConfig(orphan_policy="ignore", protection_s=12),  # type: ignore[arg-type]
        reconciler=ReconcilerConfig(level_tolerance_bps=[25, 50, 75]),  # type: ignore[arg-type]
    )
    text = "orders:\n  orphan_policy: ignore\n  protection_s: 12\n"
    assert built == load_config(write(tmp_path, text))
    assert built.orders.orphan_policy is OrphanPolicy.IGNORE
    assert pickle.loads(pickle.dumps(built)) == built


def test_subclass_fields_of_its_own_are_not_checked_as_keys() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
    class Extended(LifecycleConfig):
        label: object = None

    assert Extended(label=object()).orders == OrdersConfig()


def test_problem_severity_is_error_unless_said() -> None:
    assert ConfigProblem("a", "b").severity == "error"
    problem = ConfigProblem("a", "b", "warning")
    assert str(problem) == "a: b"
    error = ConfigError("src", [problem])
    assert pickle.loads(pickle.dumps(error)).problems == (problem,)


def test_check_config_lists_errors_only_and_warnings_are_separate(tmp_path: Path) -> None:
    path = write(tmp_path, "reconciler:\n  drift_cancel_all_bps: 60\n")
    assert check_config(path) == []
    warnings = config_warnings(load_config(path))
    assert [(w.path, w.severity) for w in warnings] == [
        ("reconciler.drift_cancel_all_bps", "warning")
    ]
    assert "levels 2 and deeper" in warnings[0].message


def test_shipped_defaults_make_max_modify_reachable() -> None:
    rec = ReconcilerConfig()
    assert rec.level_tolerance_bps == (25.0, 50.0, 75.0)
    assert rec.latch_bps < min(rec.level_tolerance_bps)
    assert max(rec.level_tolerance_bps) > rec.max_modify_bps
    assert rec.drift_cancel_all_bps >= max(rec.level_tolerance_bps)
    assert load_config(SHIPPED_CONFIG).reconciler == rec
