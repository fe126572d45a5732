//! The merchandiser's console: served from the binary with a strict content policy, and calling only
//! routes the API documents (so a renamed route cannot silently break it).

mod common;

use common::start;
use vitrine_server::ServerConfig;

/// The API paths the script calls: string literals starting with `/v1/`, without their query, with
/// each `${…}` substitution kept as written.
fn api_paths(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = script.as_bytes();
    for (i, &quote) in bytes.iter().enumerate() {
        if !matches!(quote, b'\'' | b'`') || !script[i + 1..].starts_with("/v1/") {
            continue;
        }
        let Some(len) = script[i + 1..].find(quote as char) else {
            continue;
        };
        let literal = &script[i + 1..i + 1 + len];
        let path = literal.split('?').next().unwrap_or(literal);
        out.push(path.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a called path fits a documented one: `{param}` segments take anything, and so does a
/// called segment computed by a `${…}` substitution.
fn fits(documented: &str, called: &str) -> bool {
    let (d, c): (Vec<&str>, Vec<&str>) =
        (documented.split('/').collect(), called.split('/').collect());
    d.len() == c.len()
        && d.iter()
            .zip(&c)
            .all(|(d, c)| d.starts_with('{') || c.contains("${") || d == c)
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_policy() {
    let s = start(ServerConfig::default()).await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/style.css", "text/css"),
    ] {
        let resp = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        let ctype = h["content-type"].to_str().unwrap();
        assert!(ctype.starts_with(kind), "{path}: {ctype}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = resp.text().await.unwrap();
        if path == "/console" {
            assert!(body.contains(r#"src="/console/app.js""#));
            assert!(body.contains(r#"href="/console/style.css""#));
        }
    }
}

#[tokio::test]
async fn every_api_call_of_the_console_is_a_documented_route() {
    let s = start(ServerConfig::default()).await;
    let script = s.text("/console/app.js").await;
    let (_, spec) = s.get("/openapi.json").await;
    let documented: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    let called = api_paths(&script);
    assert!(called.len() >= 8, "{called:?}");
    for path in &called {
        assert!(
            documented.iter().any(|d| fits(d, path)),
            "the console calls {path}, which no route serves"
        );
    }
    // Product titles and generated copy come from outside: the script never turns text into markup.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "the console uses {sink}");
    }
}

#[test]
fn the_path_matcher_checks_segments() {
    assert!(fits("/v1/recommend/{surface}", "/v1/recommend/${surface}"));
    assert!(fits(
        "/v1/products/{id}/content/{version}/approve",
        "/v1/products/${id}/content/${v.version}/${verb}"
    ));
    assert!(!fits("/v1/search", "/v1/serch"));
    assert!(!fits(
        "/v1/recommend/models",
        "/v1/recommend/models/rollback"
    ));
    assert_eq!(
        api_paths("api(`/v1/search?${p}`); api('/v1/stats'); x = '/v2/no';"),
        ["/v1/search", "/v1/stats"]
    );
}
