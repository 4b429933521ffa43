//! Points, boxes, lines and polygons in a frame's own coordinates: `0.0..=1.0` across and down,
//! so a line drawn on a camera's picture holds at any resolution the camera sends.

use serde::{Deserialize, Serialize};

use crate::SceneError;

/// A point of the frame: `x` across, `y` down, both in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    /// Whether the point is finite and inside the frame.
    pub fn is_valid(self) -> bool {
        self.x.is_finite() && self.y.is_finite() && (0.0..=1.0).contains(&self.x) && (0.0..=1.0).contains(&self.y)
    }

    pub fn distance(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// A box: left, top, width and height, in frame coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    /// A box from its edges in pixels of a `width` × `height` frame.
    pub fn from_pixels(left: f32, top: f32, right: f32, bottom: f32, width: u32, height: u32) -> BBox {
        let (fw, fh) = (width.max(1) as f32, height.max(1) as f32);
        BBox { x: left / fw, y: top / fh, w: (right - left) / fw, h: (bottom - top) / fh }
    }

    /// Finite, not empty, and inside the frame (a hair over its edges allowed).
    pub fn is_valid(&self) -> bool {
        [self.x, self.y, self.w, self.h].iter().all(|v| v.is_finite())
            && self.w > 0.0
            && self.h > 0.0
            && self.x >= -0.01
            && self.y >= -0.01
            && self.x + self.w <= 1.01
            && self.y + self.h <= 1.01
    }

    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (self.area() + other.area() - inter)
    }

    pub fn centre(&self) -> Point {
        Point::new(self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the object touches the ground: the middle of the box's bottom edge. Lines and
    /// zones are drawn on the ground, so this is the point that crosses them.
    pub fn foot(&self) -> Point {
        Point::new(self.x + self.w / 2.0, self.y + self.h)
    }

    pub fn diagonal(&self) -> f32 {
        (self.w * self.w + self.h * self.h).sqrt()
    }
}

/// Which side of the directed line `a → b` the point `p` lies on: positive on its right (as a
/// viewer at `a` looking at `b` in a picture whose `y` grows downwards), negative on its left.
pub fn side(a: Point, b: Point, p: Point) -> f32 {
    // y grows down: the usual cross product's sign flips, so right is positive.
    (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)
}

/// Whether the segments `p1 p2` and `q1 q2` cross (touching counts).
pub fn segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = side(q1, q2, p1);
    let d2 = side(q1, q2, p2);
    let d3 = side(p1, p2, q1);
    let d4 = side(p1, p2, q2);
    ((d1 >= 0.0) != (d2 >= 0.0) || d1 == 0.0 || d2 == 0.0) && ((d3 >= 0.0) != (d4 >= 0.0) || d3 == 0.0 || d4 == 0.0)
}

/// The distance from `p` to the segment `a b`.
pub fn distance_to_segment(a: Point, b: Point, p: Point) -> f32 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return p.distance(a);
    }
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0);
    p.distance(Point::new(a.x + t * dx, a.y + t * dy))
}

/// A simple polygon (no self-crossing required, but expected), at least three corners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Point>", into = "Vec<Point>")]
pub struct Polygon(Vec<Point>);

/// The most corners a drawn polygon may have.
pub const MAX_CORNERS: usize = 64;

impl Polygon {
    pub fn new(corners: Vec<Point>) -> Result<Polygon, SceneError> {
        if corners.len() < 3 || corners.len() > MAX_CORNERS {
            return Err(SceneError::Polygon(format!("{} corners; 3 to {MAX_CORNERS}", corners.len())));
        }
        if let Some(p) = corners.iter().find(|p| !p.is_valid()) {
            return Err(SceneError::Polygon(format!("corner ({}, {}) is outside the frame", p.x, p.y)));
        }
        Ok(Polygon(corners))
    }

    pub fn corners(&self) -> &[Point] {
        &self.0
    }

    /// Whether `p` is inside (even-odd rule; a point on an edge may go either way).
    pub fn contains(&self, p: Point) -> bool {
        let mut inside = false;
        let n = self.0.len();
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (self.0[i], self.0[j]);
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

impl TryFrom<Vec<Point>> for Polygon {
    type Error = SceneError;
    fn try_from(v: Vec<Point>) -> Result<Self, Self::Error> {
        Polygon::new(v)
    }
}

impl From<Polygon> for Vec<Point> {
    fn from(p: Polygon) -> Self {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point::new(x, y)
    }

    #[test]
    fn iou_of_equal_disjoint_and_half_overlapping_boxes() {
        let a = BBox { x: 0.1, y: 0.1, w: 0.2, h: 0.2 };
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox { x: 0.5, y: 0.5, w: 0.1, h: 0.1 }), 0.0);
        let b = BBox { x: 0.2, y: 0.1, w: 0.2, h: 0.2 };
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn the_right_side_of_a_line_is_positive_in_picture_coordinates() {
        // A line across the picture from left to right: below it is on its right.
        let (a, b) = (p(0.0, 0.5), p(1.0, 0.5));
        assert!(side(a, b, p(0.5, 0.9)) > 0.0);
        assert!(side(a, b, p(0.5, 0.1)) < 0.0);
        assert!(segments_cross(p(0.5, 0.1), p(0.5, 0.9), a, b));
        assert!(!segments_cross(p(0.5, 0.1), p(0.5, 0.4), a, b));
        assert!(!segments_cross(p(1.5, 0.1), p(1.5, 0.9), a, b), "beyond the line's end");
        assert!((distance_to_segment(a, b, p(0.5, 0.7)) - 0.2).abs() < 1e-6);
        assert!((distance_to_segment(a, b, p(1.3, 0.5)) - 0.3).abs() < 1e-6);
    }

    #[test]
    fn polygons_contain_what_is_inside_and_refuse_bad_corners() {
        let square = Polygon::new(vec![p(0.2, 0.2), p(0.8, 0.2), p(0.8, 0.8), p(0.2, 0.8)]).unwrap();
        assert!(square.contains(p(0.5, 0.5)));
        assert!(!square.contains(p(0.1, 0.5)));
        let notch = Polygon::new(vec![p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.5, 0.3), p(0.0, 1.0)]).unwrap();
        assert!(!notch.contains(p(0.5, 0.6)), "in the notch");
        assert!(notch.contains(p(0.1, 0.5)));
        assert!(Polygon::new(vec![p(0.0, 0.0), p(1.0, 1.0)]).is_err());
        assert!(Polygon::new(vec![p(0.0, 0.0), p(1.0, 1.0), p(f32::NAN, 0.0)]).is_err());
        assert!(Polygon::new(vec![p(0.0, 0.0), p(1.0, 1.0), p(2.0, 0.0)]).is_err());
        assert!(Polygon::new(vec![p(0.5, 0.5); MAX_CORNERS + 1]).is_err());
        let text = serde_json::to_string(&square).unwrap();
        assert_eq!(serde_json::from_str::<Polygon>(&text).unwrap(), square);
        assert!(serde_json::from_str::<Polygon>(r#"[{"x":0,"y":0}]"#).is_err());
    }
}
