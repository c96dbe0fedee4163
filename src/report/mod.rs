//! Renderings of an analysis [`Report`](crate::analyze::model::Report): terminal,
//! Markdown and HTML. The model itself lives in [`crate::analyze::model`].

pub mod html;
pub mod markdown;
pub mod terminal;

pub use crate::analyze::model::*;
