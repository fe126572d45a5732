//! A copy job end to end from a fresh demo store, with the real local model: `vitrine content generate`
//! writes validated copy into the workflow, and running the same command again does no duplicate work.

mod common;
use common::*;

#[test]
fn content_generate_runs_end_to_end_from_a_fresh_demo_and_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    run_ok(
        &[
            "demo",
            "--products",
            "60",
            "--shoppers",
            "20",
            "--days",
            "2",
            "--seed",
            "3",
            "--anchor",
            "2026-01-15",
            "--no-serve",
        ],
        &db,
    );
    let args = [
        "content",
        "generate",
        "--category",
        "Footwear",
        "--limit",
        "2",
        "--candidates",
        "2",
    ];
    let first = run_ok(&args, &db);
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("2 done, 0 failed of 2"), "{out}");
    let again = run_ok(&args, &db);
    let out = String::from_utf8_lossy(&again.stdout);
    // The finished job is not rerun: a new job covers the same two products (new versions supersede),
    // while the demo's own queued job is untouched.
    assert!(out.contains("of 2"), "{out}");
    let queue = run_ok(&["content", "queue", "--limit", "50"], &db);
    let lines = String::from_utf8_lossy(&queue.stdout).lines().count();
    assert!(
        lines <= 2,
        "one pending version per product at most, superseded ones leave the queue"
    );
}
