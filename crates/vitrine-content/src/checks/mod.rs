//! The non-factual checks: brand voice, readability, SEO and prompt injection.

pub mod injection;
pub mod readability;
pub mod seo;
pub mod voice;
