//! # vitrine-recommend — recommendations that learn from the whole funnel
//!
//! Candidate sources (co-visitation, sequential transitions, content similarity, the trained sequence model,
//! trending) feed multi-objective rankers; business rules shape the list; every answer is logged as an
//! impression so outcomes can be attributed and turned into rewards for the next training run.
//!
//! This crate knows nothing of HTTP: `vitrine-server` exposes it, `vitrine-cli` trains and evaluates it.

pub mod catalog;
pub mod config;
pub mod covis;
pub mod engine;
pub mod features;
pub mod ranker;
pub mod registry;
pub mod rules;
pub mod seqrec;
pub mod signals;
pub mod train;
pub mod types;

pub use config::RecommendConfig;
pub use engine::{
    ContentNeighbours, LoadReport, RecError, RecommendEngine, SnapshotError, SnapshotInfo,
};
