//! A person's page: who they are (prominently), today's code, the instalment calendar, holds,
//! regime changes and dispenses, and the actions the viewer's role allows. Every action goes
//! through a preview that shows the person again and what the pharmacy will see, then a confirm
//! that carries a stamp of what was previewed: if the person's holds or regimes changed in
//! between, the confirm is refused (action on stale data).

mod break_glass;
mod common;
mod forms;
mod holds;
mod page;
mod regime;

pub use break_glass::submit as break_glass;
pub use holds::{hold_place, hold_preview, lift, lift_preview};
pub use page::page;
pub use regime::{regime_change, regime_preview};
