//! The web chat: a page billbot serves and a widget for billers' own sites (issue 21, in
//! progress). So far: sessions ([`session`]) and the fitting of the core's replies to the page
//! ([`render`]). The transport, the page and `serve`'s listener come next.

pub mod render;
pub mod session;
