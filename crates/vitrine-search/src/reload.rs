//! Re-reads the rules and synonyms files when they change, so merchandisers' edits apply without a
//! restart. A file that fails to parse is reported and the rules in force stay in force. Rules that do
//! apply are recorded in the rules history (when one is given), so an edit made on disk is as visible and
//! as reversible as one made through the API.

use crate::engine::SearchEngine;
use crate::rules::Rules;
use crate::synonyms::Synonyms;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use vitrine_store::{NewRulesVersion, RulesHistory};

fn modified(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Reloads one file now and returns the text applied; the error names the file and the problem.
pub fn reload_rules(engine: &SearchEngine, path: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rules = Rules::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    engine.set_rules(rules);
    Ok(text)
}

/// Records rules text that was put in force by the file (at start or by an edit on disk). The history
/// skips a text equal to its newest version, so the watcher seeing an API edit adds nothing. A failure
/// is logged, never fatal: the rules apply either way.
pub async fn record_file_rules(history: &dyn RulesHistory, text: &str, source: &str) {
    let new = NewRulesVersion {
        text,
        actor: "file",
        source,
        note: None,
    };
    match history.record_rules(new).await {
        Ok(vitrine_store::RulesRecorded::New(v)) => {
            tracing::info!(version = v.version, source, "search rules version recorded")
        }
        Ok(vitrine_store::RulesRecorded::Unchanged(_)) => {}
        Err(e) => tracing::warn!(error = %e, "search rules version NOT recorded in the history"),
    }
}

/// Reloads the synonyms file now.
pub fn reload_synonyms(engine: &SearchEngine, path: &PathBuf) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = Synonyms::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    engine.set_synonyms(s);
    Ok(())
}

/// Polls the configured files every `every`, applies changes and records applied rules in `history`.
pub fn spawn_watcher(
    engine: Arc<SearchEngine>,
    every: Duration,
    history: Option<Arc<dyn RulesHistory>>,
) -> Option<tokio::task::JoinHandle<()>> {
    let rules = engine.config().rules.clone();
    let synonyms = engine.config().synonyms.clone();
    if rules.is_none() && synonyms.is_none() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut seen_rules = rules.as_ref().and_then(modified);
        let mut seen_synonyms = synonyms.as_ref().and_then(modified);
        loop {
            tokio::time::sleep(every).await;
            if let Some(p) = &rules {
                let m = modified(p);
                if m != seen_rules {
                    seen_rules = m;
                    // An API edit holds this lock from its write until it has recorded its version.
                    let _file = engine.rules_file_lock().lock().await;
                    match reload_rules(&engine, p) {
                        Ok(text) => {
                            tracing::info!(file = %p.display(), "search rules reloaded");
                            if let Some(h) = &history {
                                record_file_rules(h.as_ref(), &text, "file").await;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "search rules NOT reloaded; previous rules stay")
                        }
                    }
                }
            }
            if let Some(p) = &synonyms {
                let m = modified(p);
                if m != seen_synonyms {
                    seen_synonyms = m;
                    match reload_synonyms(&engine, p) {
                        Ok(()) => tracing::info!(file = %p.display(), "synonyms reloaded"),
                        Err(e) => {
                            tracing::error!(error = %e, "synonyms NOT reloaded; previous list stays")
                        }
                    }
                }
            }
        }
    }))
}
