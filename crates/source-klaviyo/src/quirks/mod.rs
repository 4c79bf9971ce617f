//! What Klaviyo does differently from a plain JSON:API list: one module per quirk, each named
//! where the stream table uses it.

pub mod campaigns;
pub mod events;
pub mod global_exclusions;
pub mod included;
pub mod lists_detailed;
pub mod reports;
