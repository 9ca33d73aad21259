//! A room's layout setting, as the REST API and the `setLayout` message carry it.

use serde::{Deserialize, Serialize};

use crate::ids::ParticipantId;

/// Largest number of custom regions accepted.
pub const MAX_REGIONS: usize = 64;

/// How tiles are arranged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// An even grid of about √N columns.
    #[default]
    Grid,
    /// The active (or pinned) speaker large, everyone else in a filmstrip below.
    Speaker,
    /// The active (or pinned) speaker alone, over the whole canvas.
    Spotlight,
    /// Explicit regions.
    Custom,
}

/// A custom region in canvas fractions, drawn above regions of lower `z`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// Left edge, 0–1.
    pub x: f64,
    /// Top edge, 0–1.
    pub y: f64,
    /// Width, 0–1.
    pub w: f64,
    /// Height, 0–1.
    pub h: f64,
    /// Stacking order; higher is drawn on top (-100–100).
    #[serde(default)]
    pub z: i32,
    /// Who goes here; unassigned regions are filled in join order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
}

/// A room's layout setting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayoutSpec {
    /// The arrangement.
    pub mode: Mode,
    /// Kept in the speaker slot whatever speaker detection says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<ParticipantId>,
    /// The regions of `custom` mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
    /// When set (through the REST API), participants may not change the layout.
    #[serde(default)]
    pub locked: bool,
}

/// Why a layout setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// `custom` without regions, or with too many.
    #[error("custom layouts need 1 to {MAX_REGIONS} regions")]
    RegionCount,
    /// A region outside the canvas, empty, or with an out-of-range z.
    #[error("region {0} must lie within the canvas (fractions 0-1, non-empty) with z in -100..=100")]
    BadRegion(usize),
    /// Two regions overlap at the same z: which one is on top would be arbitrary.
    #[error("regions {0} and {1} overlap with the same z; give the one on top a higher z")]
    SameZOverlap(usize, usize),
    /// One participant assigned to two regions.
    #[error("regions {0} and {1} are assigned to the same participant")]
    DuplicateAssignment(usize, usize),
}

/// Whether two regions share some area (touching edges do not count).
fn overlap(a: &Region, b: &Region) -> bool {
    const E: f64 = 1e-9;
    a.x + a.w > b.x + E && b.x + b.w > a.x + E && a.y + a.h > b.y + E && b.y + b.h > a.y + E
}

impl LayoutSpec {
    /// Checks the setting is usable.
    pub fn validate(&self) -> Result<(), LayoutError> {
        if self.mode == Mode::Custom && (self.regions.is_empty() || self.regions.len() > MAX_REGIONS) {
            return Err(LayoutError::RegionCount);
        }
        for (i, r) in self.regions.iter().enumerate() {
            let finite = [r.x, r.y, r.w, r.h].iter().all(|v| v.is_finite());
            let inside = r.x >= 0.0
                && r.y >= 0.0
                && r.w > 0.0
                && r.h > 0.0
                && r.x + r.w <= 1.0 + 1e-9
                && r.y + r.h <= 1.0 + 1e-9;
            if !finite || !inside || !(-100..=100).contains(&r.z) {
                return Err(LayoutError::BadRegion(i));
            }
        }
        for (i, a) in self.regions.iter().enumerate() {
            for (j, b) in self.regions.iter().enumerate().skip(i + 1) {
                if a.z == b.z && overlap(a, b) {
                    return Err(LayoutError::SameZOverlap(i, j));
                }
                if a.participant.is_some() && a.participant == b.participant {
                    return Err(LayoutError::DuplicateAssignment(i, j));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_and_validation() {
        let spec: LayoutSpec = serde_json::from_str(
            r#"{"mode":"custom","regions":[{"x":0,"y":0,"w":1,"h":1},{"x":0.7,"y":0.7,"w":0.3,"h":0.3,"z":1,"participant":"p2"}]}"#,
        )
        .unwrap();
        assert_eq!(
            (spec.mode, spec.regions.len(), spec.regions[1].participant.map(|p| p.to_string())),
            (Mode::Custom, 2, Some("p2".into()))
        );
        assert!(spec.validate().is_ok());
        let spot: LayoutSpec = serde_json::from_str(r#"{"mode":"spotlight","pinned":"p7"}"#).unwrap();
        assert_eq!(spot.pinned.unwrap().to_string(), "p7");
        assert!(serde_json::from_str::<LayoutSpec>(r#"{"mode":"mosaic"}"#).is_err());
        assert!(serde_json::from_str::<LayoutSpec>(r#"{"mode":"grid","extra":1}"#).is_err());
        let empty = LayoutSpec { mode: Mode::Custom, ..Default::default() };
        assert_eq!(empty.validate(), Err(LayoutError::RegionCount));
        let outside = Region { x: 0.5, y: 0.0, w: 0.6, h: 1.0, z: 0, participant: None };
        let bad = LayoutSpec { mode: Mode::Custom, regions: vec![outside], ..Default::default() };
        assert_eq!(bad.validate(), Err(LayoutError::BadRegion(0)));
        let left = Region { x: 0.0, y: 0.0, w: 0.5, h: 1.0, z: 0, participant: None };
        let right = Region { x: 0.5, ..left };
        let custom = |regions: Vec<Region>| LayoutSpec { mode: Mode::Custom, regions, ..Default::default() };
        assert!(custom(vec![left, right]).validate().is_ok(), "touching edges do not overlap");
        let pip = Region { x: 0.4, y: 0.4, w: 0.2, h: 0.2, z: 0, participant: None };
        assert_eq!(custom(vec![left, pip]).validate(), Err(LayoutError::SameZOverlap(0, 1)));
        assert!(custom(vec![left, Region { z: 1, ..pip }]).validate().is_ok(), "picture in picture above");
        let p = Some(ParticipantId::next());
        assert_eq!(
            custom(vec![Region { participant: p, ..left }, Region { participant: p, ..right }]).validate(),
            Err(LayoutError::DuplicateAssignment(0, 1))
        );
        let nan = Region { x: f64::NAN, ..outside };
        assert!(LayoutSpec { regions: vec![nan], ..bad.clone() }.validate().is_err());
    }
}
