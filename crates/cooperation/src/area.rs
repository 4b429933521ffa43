//! Where an incident is: a point with a radius, or a GeoJSON polygon.

use geojson::{Geometry, Value};
use limes_model::GeoPoint;
use serde::{Deserialize, Serialize};

/// The most vertices an area may have (all rings together). A flood's outline drawn by hand or
/// exported from a GIS is far smaller; more is refused rather than stored and relayed.
pub const MAX_VERTICES: usize = 10_000;

/// The area of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Geometry", into = "Geometry")]
pub struct Area(Geometry);

/// Why an area was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    #[error("an area is a GeoJSON Point, Polygon or MultiPolygon, not a {0}")]
    Kind(String),
    #[error("position {0:?} is not [longitude, latitude] in WGS84")]
    Position(Vec<f64>),
    #[error("a polygon's ring has {0} positions; at least 4, the last equal to the first")]
    Ring(usize),
    #[error("a polygon's ring does not end where it starts")]
    Open,
    #[error("the area has more than {MAX_VERTICES} vertices")]
    TooLarge,
}

fn position(p: &[f64]) -> Result<GeoPoint, AreaError> {
    match p {
        [lon, lat] | [lon, lat, _] => GeoPoint::new(*lat, *lon).map_err(|_| AreaError::Position(p.to_vec())),
        _ => Err(AreaError::Position(p.to_vec())),
    }
}

fn polygon(rings: &[Vec<Vec<f64>>], vertices: &mut usize) -> Result<(), AreaError> {
    if rings.is_empty() {
        return Err(AreaError::Ring(0));
    }
    for ring in rings {
        *vertices += ring.len();
        if *vertices > MAX_VERTICES {
            return Err(AreaError::TooLarge);
        }
        if ring.len() < 4 {
            return Err(AreaError::Ring(ring.len()));
        }
        for p in ring {
            position(p)?;
        }
        if ring.first() != ring.last() {
            return Err(AreaError::Open);
        }
    }
    Ok(())
}

impl TryFrom<Geometry> for Area {
    type Error = AreaError;
    fn try_from(g: Geometry) -> Result<Self, AreaError> {
        let mut vertices = 0;
        match &g.value {
            Value::Point(p) => {
                position(p)?;
            }
            Value::Polygon(rings) => polygon(rings, &mut vertices)?,
            Value::MultiPolygon(polygons) => {
                if polygons.is_empty() {
                    return Err(AreaError::Ring(0));
                }
                for rings in polygons {
                    polygon(rings, &mut vertices)?;
                }
            }
            other => return Err(AreaError::Kind(other.type_name().to_owned())),
        }
        // Only the geometry: a bounding box or foreign members are not kept or relayed.
        Ok(Area(Geometry::new(g.value)))
    }
}

impl From<Area> for Geometry {
    fn from(a: Area) -> Geometry {
        a.0
    }
}

impl Area {
    /// A point.
    pub fn point(p: GeoPoint) -> Self {
        Area(Geometry::new(Value::Point(vec![p.lon, p.lat])))
    }

    /// Parses GeoJSON geometry text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let g: Geometry = text.parse().map_err(|e: geojson::Error| e.to_string())?;
        Area::try_from(g).map_err(|e| e.to_string())
    }

    /// A representative point: the point itself, or the mean of the outer ring's vertices
    /// (enough to find patrol units near an incident and to centre a map on it).
    pub fn centre(&self) -> GeoPoint {
        let ring: &[Vec<f64>] = match &self.0.value {
            Value::Point(p) => std::slice::from_ref(p),
            Value::Polygon(rings) => &rings[0],
            Value::MultiPolygon(polys) => &polys[0][0],
            _ => &[],
        };
        // The closing vertex repeats the first.
        let ring = if ring.len() > 1 { &ring[..ring.len() - 1] } else { ring };
        let n = ring.len().max(1) as f64;
        let (lon, lat) = ring.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        GeoPoint::new(lat / n, lon / n).unwrap_or(GeoPoint { lat: 0.0, lon: 0.0 })
    }

    pub fn geometry(&self) -> &Geometry {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_and_closed_polygons_are_areas() {
        let p = Area::parse(r#"{"type":"Point","coordinates":[28.84,45.35]}"#).unwrap();
        assert!((p.centre().lat - 45.35).abs() < 1e-9);
        let poly =
            Area::parse(r#"{"type":"Polygon","coordinates":[[[28,45],[29,45],[29,46],[28,46],[28,45]]]}"#).unwrap();
        assert!((poly.centre().lat - 45.5).abs() < 1e-9 && (poly.centre().lon - 28.5).abs() < 1e-9);
        // What a GIS adds beside the geometry is not kept.
        let with_bbox = Area::parse(r#"{"type":"Point","coordinates":[28.84,45.35],"bbox":[0,0,1,1]}"#).unwrap();
        assert_eq!(serde_json::to_string(&with_bbox).unwrap(), r#"{"type":"Point","coordinates":[28.84,45.35]}"#);
    }

    #[test]
    fn hostile_areas_are_refused_with_a_reason() {
        for (text, want) in [
            (r#"{"type":"LineString","coordinates":[[28,45],[29,45]]}"#, "not a LineString"),
            (r#"{"type":"Point","coordinates":[45.35,128.84]}"#, "not [longitude, latitude]"),
            (r#"{"type":"Point","coordinates":[1]}"#, "two or more"),
            (r#"{"type":"Polygon","coordinates":[[[28,45],[29,45],[28,45]]]}"#, "has 3 positions"),
            (r#"{"type":"Polygon","coordinates":[[[28,45],[29,45],[29,46],[28,46]]]}"#, "does not end"),
            (r#"{"type":"Polygon","coordinates":[]}"#, "has 0 positions"),
            (r#"{"type":"Point","coordinates":["NaN",1]}"#, ""),
            (r#"{"type":"Polygon""#, ""),
        ] {
            let e = Area::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        let ring: Vec<String> = (0..=MAX_VERTICES).map(|i| format!("[{},45]", i as f64 / 1e4)).collect();
        let big = format!(r#"{{"type":"Polygon","coordinates":[[{},[0,45]]]}}"#, ring.join(","));
        assert!(Area::parse(&big).unwrap_err().contains("more than"));
    }
}
