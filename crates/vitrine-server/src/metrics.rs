//! Prometheus instruments and the middleware that counts and times every request by route template
//! (`/v1/products/{id}`, not the raw path, so cardinality stays bounded).

use crate::AppState;
use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::time::Instant;

/// All instruments of one server.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Events by outcome: stored, duplicate, unknown_product, rejected.
    pub events: IntCounterVec,
    /// Products by outcome: changed, unchanged, rejected.
    pub products: IntCounterVec,
    /// Searches whose event logging failed.
    pub search_log_failures: prometheus::IntCounter,
}

impl Metrics {
    /// Creates and registers every instrument.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "vitrine_http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "vitrine_http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )
        .expect("static metric definition");
        let events = IntCounterVec::new(
            Opts::new(
                "vitrine_events_ingested_total",
                "Events received over HTTP by outcome",
            ),
            &["outcome"],
        )
        .expect("static metric definition");
        let products = IntCounterVec::new(
            Opts::new(
                "vitrine_products_ingested_total",
                "Products received over HTTP by outcome",
            ),
            &["outcome"],
        )
        .expect("static metric definition");
        let search_log_failures = prometheus::IntCounter::new(
            "vitrine_search_log_failures_total",
            "Searches whose search/impression events could not be stored",
        )
        .expect("static metric definition");
        let _ = registry.register(Box::new(search_log_failures.clone()));
        for c in [&requests, &events, &products] {
            let _ = registry.register(Box::new(c.clone()));
        }
        let _ = registry.register(Box::new(latency.clone()));
        Self {
            registry,
            requests,
            latency,
            events,
            products,
            search_log_failures,
        }
    }

    /// Text exposition format for `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}
