//! Re-reads the rules and synonyms files when they change, so merchandisers' edits apply without a
//! restart. A file that fails to parse is reported and the rules in force stay in force.

use crate::engine::SearchEngine;
use crate::rules::Rules;
use crate::synonyms::Synonyms;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn modified(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Reloads one file now; the error names the file and the problem.
pub fn reload_rules(engine: &SearchEngine, path: &PathBuf) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rules = Rules::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    engine.set_rules(rules);
    Ok(())
}

/// Reloads the synonyms file now.
pub fn reload_synonyms(engine: &SearchEngine, path: &PathBuf) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = Synonyms::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    engine.set_synonyms(s);
    Ok(())
}

/// Polls the configured files every `every` and applies changes.
pub fn spawn_watcher(
    engine: Arc<SearchEngine>,
    every: Duration,
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
                    match reload_rules(&engine, p) {
                        Ok(()) => tracing::info!(file = %p.display(), "search rules reloaded"),
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
