//! The `vitrine` commands a new user runs: demo, import with bad lines, export, erase-user, config errors.

mod common;
use common::*;
use std::io::Write;

#[test]
fn demo_is_deterministic_for_a_seed_and_exports_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let args = [
        "demo",
        "--products",
        "300",
        "--shoppers",
        "60",
        "--days",
        "3",
        "--seed",
        "9",
        "--anchor",
        "2026-01-15",
        "--no-serve",
    ];
    run_ok(&args, &a);
    run_ok(&args, &b);
    let (ea, eb) = (dir.path().join("ea"), dir.path().join("eb"));
    run_ok(&["export", "--out", ea.to_str().unwrap()], &a);
    run_ok(&["export", "--out", eb.to_str().unwrap()], &b);
    let events_a = std::fs::read_to_string(ea.join("events.jsonl")).unwrap();
    let events_b = std::fs::read_to_string(eb.join("events.jsonl")).unwrap();
    assert!(events_a.lines().count() > 200, "a demo has real traffic");
    assert_eq!(events_a, events_b, "same seed, same history");
    let products = std::fs::read_to_string(ea.join("products.jsonl")).unwrap();
    assert_eq!(products.lines().count(), 300);
    assert!(
        products.contains("\"backorder\":true"),
        "the demo has backorder items"
    );
    assert!(
        products.contains("\"quantity\":0"),
        "the demo has out-of-stock items"
    );

    // The export is importable as-is into a fresh store.
    let c = dir.path().join("c.db");
    let r = report(&run_ok(
        &[
            "import",
            "products",
            ea.join("products.jsonl").to_str().unwrap(),
        ],
        &c,
    ));
    assert_eq!(
        (r["stored"].as_u64(), r["rejected"].as_u64()),
        (Some(300), Some(0))
    );
    let r = report(&run_ok(
        &[
            "import",
            "events",
            ea.join("events.jsonl").to_str().unwrap(),
        ],
        &c,
    ));
    assert_eq!(r["stored"].as_u64(), Some(events_a.lines().count() as u64));
    assert_eq!(r["unknown_product"], 0);
}

#[test]
fn import_reports_bad_lines_and_keeps_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    f.write_all(
        b"{\"event_id\":\"a\",\"type\":\"view\",\"session_id\":\"s\",\"product_id\":\"p\"}\n\
          {\"event_id\":\"b\",\"type\":\"view\"\n\
          \n\
          {\"event_id\":\"c\",\"type\":\"purchase\",\"session_id\":\"s\",\"product_id\":\"p\",\"quantity\":-2}\n\
          {\"event_id\":\"\xff\"}\n\
          {\"event_id\":\"d\",\"type\":\"search\",\"user_id\":\"u\",\"query\":\"navy shirt\"}\n",
    )
    .unwrap();
    drop(f);
    let errors = dir.path().join("errors.jsonl");
    let db = dir.path().join("i.db");
    let out = run_ok(
        &[
            "import",
            "events",
            file.to_str().unwrap(),
            "--errors-out",
            errors.to_str().unwrap(),
        ],
        &db,
    );
    let r = report(&out);
    assert_eq!(
        (
            r["records"].as_u64(),
            r["stored"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        stderr.contains("line 4") && stderr.contains("quantity"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5") && stderr.contains("UTF-8"),
        "{stderr}"
    );
    let all: Vec<serde_json::Value> = std::fs::read_to_string(errors)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        all.iter()
            .map(|e| e["location"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 4, 5]
    );
}

#[test]
fn erase_user_removes_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    run_ok(
        &[
            "demo",
            "--products",
            "100",
            "--shoppers",
            "30",
            "--days",
            "2",
            "--no-serve",
        ],
        &db,
    );
    let export = dir.path().join("x");
    run_ok(&["export", "--out", export.to_str().unwrap()], &db);
    let events = std::fs::read_to_string(export.join("events.jsonl")).unwrap();
    let user = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|e| e["user_id"].as_str().map(str::to_string))
        .expect("some logged-in shopper");
    let out = run_ok(&["erase-user", &user], &db);
    assert!(String::from_utf8_lossy(&out.stdout).contains("events"));
    run_ok(&["export", "--out", export.to_str().unwrap()], &db);
    let after = std::fs::read_to_string(export.join("events.jsonl")).unwrap();
    assert!(!after.contains(&format!("\"user_id\":\"{user}\"")));
    assert!(after.lines().count() < events.lines().count());
}

#[test]
fn config_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("v.toml");
    std::fs::write(&cfg, "[server]\naddres = \"x\"\n").unwrap();
    let out = vitrine()
        .args(["--config", cfg.to_str().unwrap(), "stats"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("addres"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vitrine().args(["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "demo", "import", "export", "erase-user", "bench"] {
        assert!(help.contains(cmd), "--help lists {cmd}");
    }
}
