//! Providers: the [`seam::Provider`] trait every transport implements, its
//! error, the registry of factories and the swappable slots, the choice of
//! provider per capability ([`selection`]) and the application state.

pub mod seam;
pub mod selection;
pub mod state;
pub mod tracked;
