//! Border regions: the cameras along the roads to one crossing, how long the border takes, and
//! which countries' vehicles drive there.

use std::fmt;

use limes_model::{AgencyId, Camera, CameraId, CameraKind, GeoPoint};
use limes_plate::CountryCode;

/// One side of the border: `A` is the first country of the region's name (RO in `ro-ua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    A,
    B,
}

impl Side {
    pub(crate) fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Which way a vehicle drives along the corridor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Travel {
    /// From side A towards side B, in station order.
    AToB,
    /// From side B towards side A, against station order.
    BToA,
}

/// Which end of the corridor a fixed camera looks towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Faces {
    TowardsA,
    TowardsB,
}

/// Which traffic a fixed camera sees: both carriageways, or one lane of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sees {
    Both,
    Only(Travel),
}

/// A fixed camera's place on the corridor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Site {
    /// Index into [`Region::cameras`].
    pub camera: usize,
    pub faces: Faces,
    pub sees: Sees,
    /// Share of passing vehicles the camera reads at all.
    pub read_rate: f64,
}

impl Site {
    pub(crate) fn sees(&self, travel: Travel) -> bool {
        match self.sees {
            Sees::Both => true,
            Sees::Only(t) => t == travel,
        }
    }

    /// Whether a vehicle driving `travel` comes towards the camera (it reads the front plate).
    pub(crate) fn approaching(&self, travel: Travel) -> bool {
        matches!((self.faces, travel), (Faces::TowardsA, Travel::AToB) | (Faces::TowardsB, Travel::BToA))
    }
}

/// A point on the corridor where one or more fixed cameras stand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Station {
    pub position: GeoPoint,
    pub sites: Vec<Site>,
}

/// A patrol car driving up and down one leg of the corridor, reading the vehicles it meets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Patrol {
    pub camera: usize,
    /// The leg from station `leg` to station `leg + 1`.
    pub leg: usize,
    pub read_rate: f64,
}

/// A drone circling over the crossing, reading the vehicles queueing there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drone {
    pub camera: usize,
    pub center: GeoPoint,
    pub radius_m: f64,
    pub period_s: f64,
    pub read_rate: f64,
}

impl Drone {
    /// Where the drone is at `unix_ms`: on a circle round the crossing, one lap per period.
    pub(crate) fn position(&self, unix_ms: i64) -> GeoPoint {
        let period_ms = (self.period_s * 1000.0) as i64;
        let phase = unix_ms.rem_euclid(period_ms) as f64 / period_ms as f64;
        let angle = phase * std::f64::consts::TAU;
        let dlat = self.radius_m * angle.cos() / METRES_PER_DEGREE;
        let dlon = self.radius_m * angle.sin() / (METRES_PER_DEGREE * self.center.lat.to_radians().cos());
        point(self.center.lat + dlat, self.center.lon + dlon)
    }
}

/// How long the border takes, in minutes: a triangular distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Wait {
    pub min: f64,
    pub mode: f64,
    pub max: f64,
}

impl Wait {
    /// The value of the distribution at quantile `u` in `0..1`.
    pub(crate) fn quantile(&self, u: f64) -> f64 {
        let Wait { min, mode, max } = *self;
        if max <= min {
            return min;
        }
        let split = (mode - min) / (max - min);
        if u < split {
            min + (u * (max - min) * (mode - min)).sqrt()
        } else {
            max - ((1.0 - u) * (max - min) * (max - mode)).sqrt()
        }
    }
}

const METRES_PER_DEGREE: f64 = 111_320.0;

/// Roads are longer than the straight line between two cameras.
pub(crate) const ROAD_FACTOR: f64 = 1.25;

/// A border region: a road corridor through one crossing, cameras on both sides, the waits at the
/// border and the country mix of the traffic.
///
/// Positions are approximate WGS84 points on the real roads; camera ids, agencies and names are
/// made up for simulation and refer to no real installation.
///
/// ```
/// use limes_sim::Region;
/// let region = Region::ro_ua();
/// assert!(region.cameras().iter().any(|c| c.id.as_str() == "ro-siret-01"));
/// assert_eq!(Region::named("cz-pl"), Some(Region::cz_pl()));
/// ```
#[derive(Clone, PartialEq)]
pub struct Region {
    name: &'static str,
    title: &'static str,
    sides: [CountryCode; 2],
    mix: Vec<(CountryCode, f64)>,
    cameras: Vec<Camera>,
    pub(crate) stations: Vec<Station>,
    /// The first station on side B; the border lies between it and the one before.
    pub(crate) crossing: usize,
    /// Straight-line metres from station `i` to station `i + 1`.
    pub(crate) leg_m: Vec<f64>,
    pub(crate) patrol: Patrol,
    pub(crate) drone: Drone,
    pub(crate) car_wait: Wait,
    pub(crate) truck_wait: Wait,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.name)
            .field("sides", &self.sides)
            .field("cameras", &self.cameras.len())
            .finish_non_exhaustive()
    }
}

impl Region {
    /// The names [`Region::named`] knows.
    pub const NAMES: [&'static str; 3] = ["ro-ua", "ro-rs", "cz-pl"];

    /// Romania–Ukraine at Siret–Porubne: DN2/E85 from Suceava north to the crossing, M19/E85 on to
    /// Chernivtsi. Cars wait minutes to hours, lorries hours.
    ///
    /// Traffic: RO 50 %, UA 40 %, MD 5 %, PL, HU, BG, DE, SK 1 % each.
    pub fn ro_ua() -> Region {
        use CameraKind::{Anpr, Fixed};
        use Faces::{TowardsA, TowardsB};
        let mut b = Builder::new("ro-ua", "Romania–Ukraine, Siret–Porubne", CountryCode::RO, CountryCode::UA);
        b.mix(&[
            (CountryCode::RO, 50.0),
            (CountryCode::UA, 40.0),
            (CountryCode::MD, 5.0),
            (CountryCode::PL, 1.0),
            (CountryCode::HU, 1.0),
            (CountryCode::BG, 1.0),
            (CountryCode::DE, 1.0),
            (CountryCode::SK, 1.0),
        ]);
        b.station(
            47.6930,
            26.2520,
            "DN2/E85",
            &[cam("ro-suceava-01", "ro-igpr", Anpr, "DN2 Suceava north exit", TowardsA)],
        );
        b.station(
            47.7440,
            26.1580,
            "DN2/E85",
            &[cam("ro-darmanesti-01", "ro-igpr", Fixed, "DN2 Dărmănești", TowardsB)],
        );
        b.station(
            47.9370,
            26.0690,
            "DN2/E85",
            &[cam("ro-siret-01", "ro-igpr", Anpr, "DN2 Siret south entrance", TowardsA)],
        );
        b.station(
            47.9790,
            26.0400,
            "DN2/E85",
            &[
                lane("ro-siret-02", "ro-igpf", "Siret border checkpoint, exit lanes", TowardsA, Travel::AToB, "exit"),
                lane("ro-siret-03", "ro-igpf", "Siret border checkpoint, entry lanes", TowardsB, Travel::BToA, "entry"),
            ],
        );
        b.border();
        b.station(
            47.9880,
            26.0310,
            "M19/E85",
            &[
                lane("ua-porubne-01", "ua-dpsu", "Porubne checkpoint, entry lanes", TowardsA, Travel::AToB, "entry"),
                lane("ua-porubne-02", "ua-dpsu", "Porubne checkpoint, exit lanes", TowardsB, Travel::BToA, "exit"),
            ],
        );
        b.station(48.0870, 25.9300, "M19/E85", &[cam("ua-hlyboka-01", "ua-npu", Anpr, "M19 Hlyboka", TowardsA)]);
        b.station(
            48.2460,
            25.9520,
            "M19/E85",
            &[cam("ua-chernivtsi-01", "ua-npu", Anpr, "M19 Chernivtsi south", TowardsB)],
        );
        b.patrol("ro-patrol-01", "ro-igpf", "Border police patrol car, DN2 Dărmănești–Siret", 1);
        b.drone("ro-drone-01", "ro-igpf", "Border police drone over Siret–Porubne", Side::A);
        b.waits(Wait { min: 5.0, mode: 25.0, max: 180.0 }, Wait { min: 30.0, mode: 120.0, max: 360.0 });
        b.finish()
    }

    /// Romania–Serbia at Moravița–Vatin: DN59/E70 from Timișoara south to the crossing, on to
    /// Vršac and Uljma.
    ///
    /// Traffic: RO 45 %, RS 40 %, HU, BG, DE 4 % each, MD, UA, PL 1 % each.
    pub fn ro_rs() -> Region {
        use CameraKind::{Anpr, Fixed};
        use Faces::{TowardsA, TowardsB};
        let mut b = Builder::new("ro-rs", "Romania–Serbia, Moravița–Vatin", CountryCode::RO, CountryCode::RS);
        b.mix(&[
            (CountryCode::RO, 45.0),
            (CountryCode::RS, 40.0),
            (CountryCode::HU, 4.0),
            (CountryCode::BG, 4.0),
            (CountryCode::DE, 4.0),
            (CountryCode::MD, 1.0),
            (CountryCode::UA, 1.0),
            (CountryCode::PL, 1.0),
        ]);
        b.station(
            45.7160,
            21.2080,
            "DN59/E70",
            &[cam("ro-timisoara-01", "ro-igpr", Anpr, "DN59 Timișoara south exit", TowardsA)],
        );
        b.station(45.3950, 21.2220, "DN59/E70", &[cam("ro-deta-01", "ro-igpr", Fixed, "DN59 Deta", TowardsB)]);
        b.station(45.2690, 21.2640, "DN59/E70", &[cam("ro-moravita-01", "ro-igpr", Anpr, "DN59 Moravița", TowardsA)]);
        b.station(
            45.2560,
            21.2750,
            "DN59/E70",
            &[
                lane(
                    "ro-moravita-02",
                    "ro-igpf",
                    "Moravița border checkpoint, exit lanes",
                    TowardsA,
                    Travel::AToB,
                    "exit",
                ),
                lane(
                    "ro-moravita-03",
                    "ro-igpf",
                    "Moravița border checkpoint, entry lanes",
                    TowardsB,
                    Travel::BToA,
                    "entry",
                ),
            ],
        );
        b.border();
        b.station(
            45.2480,
            21.2830,
            "M-1.9/E70",
            &[
                lane("rs-vatin-01", "rs-mup", "Vatin checkpoint, entry lanes", TowardsA, Travel::AToB, "entry"),
                lane("rs-vatin-02", "rs-mup", "Vatin checkpoint, exit lanes", TowardsB, Travel::BToA, "exit"),
            ],
        );
        b.station(
            45.1330,
            21.2920,
            "M-1.9/E70",
            &[cam("rs-vrsac-01", "rs-mup", Anpr, "Vršac north entrance", TowardsA)],
        );
        b.station(45.0440, 21.1560, "M-1.9/E70", &[cam("rs-uljma-01", "rs-mup", Anpr, "Uljma", TowardsB)]);
        b.patrol("ro-patrol-02", "ro-igpf", "Border police patrol car, DN59 Deta–Moravița", 1);
        b.drone("rs-drone-01", "rs-mup", "Border police drone over Moravița–Vatin", Side::B);
        b.waits(Wait { min: 3.0, mode: 15.0, max: 90.0 }, Wait { min: 20.0, mode: 60.0, max: 240.0 });
        b.finish()
    }

    /// Czech Republic–Poland at Náchod–Kudowa-Zdrój: I/33/E67 from Jaroměř east, DK8/E67 on to
    /// Kłodzko. Both are in Schengen: no checks, the border costs a minute at most.
    ///
    /// Traffic: CZ 45 %, PL 42 %, DE 5 %, SK 4 %, UA 3 %, HU 1 %.
    pub fn cz_pl() -> Region {
        use CameraKind::{Anpr, Fixed};
        use Faces::{TowardsA, TowardsB};
        let mut b =
            Builder::new("cz-pl", "Czech Republic–Poland, Náchod–Kudowa-Zdrój", CountryCode::CZ, CountryCode::PL);
        b.mix(&[
            (CountryCode::CZ, 45.0),
            (CountryCode::PL, 42.0),
            (CountryCode::DE, 5.0),
            (CountryCode::SK, 4.0),
            (CountryCode::UA, 3.0),
            (CountryCode::HU, 1.0),
        ]);
        b.station(50.3600, 15.9300, "I/33/E67", &[cam("cz-jaromer-01", "cz-pcr", Anpr, "I/33 Jaroměř east", TowardsA)]);
        b.station(50.4130, 16.1480, "I/33/E67", &[cam("cz-nachod-01", "cz-pcr", Fixed, "I/33 Náchod", TowardsB)]);
        b.station(
            50.4250,
            16.1880,
            "I/33/E67",
            &[cam("cz-nachod-02", "cz-pcr", Anpr, "I/33 Náchod-Běloves", TowardsA)],
        );
        b.border();
        b.station(50.4300, 16.2030, "DK8/E67", &[cam("pl-kudowa-01", "pl-sg", Anpr, "DK8 Kudowa-Słone", TowardsA)]);
        b.station(50.4420, 16.2450, "DK8/E67", &[cam("pl-kudowa-02", "pl-kgp", Fixed, "DK8 Kudowa-Zdrój", TowardsB)]);
        b.station(50.4370, 16.6250, "DK8/E67", &[cam("pl-klodzko-01", "pl-kgp", Anpr, "DK8 Kłodzko west", TowardsB)]);
        b.patrol("pl-patrol-01", "pl-sg", "Border guard patrol car, DK8 Kudowa–Kłodzko", 4);
        b.drone("cz-drone-01", "cz-pcr", "Police drone over Náchod–Kudowa", Side::A);
        b.waits(Wait { min: 0.0, mode: 0.2, max: 2.0 }, Wait { min: 0.0, mode: 0.5, max: 4.0 });
        b.finish()
    }

    /// The preset called `name` (one of [`Region::NAMES`]).
    pub fn named(name: &str) -> Option<Region> {
        match name {
            "ro-ua" => Some(Region::ro_ua()),
            "ro-rs" => Some(Region::ro_rs()),
            "cz-pl" => Some(Region::cz_pl()),
            _ => None,
        }
    }

    /// The short name, e.g. `ro-ua`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A human title, e.g. `Romania–Ukraine, Siret–Porubne`.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// The two countries of the border, side A first.
    pub fn countries(&self) -> [CountryCode; 2] {
        self.sides
    }

    /// The cameras of the region, fixed ones in road order from side A to side B, then the patrol
    /// car and the drone.
    pub fn cameras(&self) -> Vec<Camera> {
        self.cameras.clone()
    }

    /// The country mix of the traffic: countries with shares that add up to 1.
    pub fn country_mix(&self) -> &[(CountryCode, f64)] {
        &self.mix
    }

    /// The agencies that operate the region's cameras, sorted.
    pub fn agencies(&self) -> Vec<AgencyId> {
        let mut agencies: Vec<AgencyId> = self.cameras.iter().map(|c| c.agency.clone()).collect();
        agencies.sort();
        agencies.dedup();
        agencies
    }

    pub(crate) fn camera(&self, index: usize) -> &Camera {
        &self.cameras[index]
    }

    pub(crate) fn side_of(&self, country: CountryCode) -> Option<Side> {
        if country == self.sides[0] {
            Some(Side::A)
        } else if country == self.sides[1] {
            Some(Side::B)
        } else {
            None
        }
    }

    /// The stations a local trip on `side` may use: all but the one at the border.
    pub(crate) fn interior(&self, side: Side) -> std::ops::Range<usize> {
        match side {
            Side::A => 0..self.crossing - 1,
            Side::B => self.crossing + 1..self.stations.len(),
        }
    }

    /// The stations of `side`, including the one at the border.
    pub(crate) fn stations_of(&self, side: Side) -> std::ops::Range<usize> {
        match side {
            Side::A => 0..self.crossing,
            Side::B => self.crossing..self.stations.len(),
        }
    }

    /// A point `fraction` of the way along leg `leg`.
    pub(crate) fn along(&self, leg: usize, fraction: f64) -> GeoPoint {
        let (p, q) = (self.stations[leg].position, self.stations[leg + 1].position);
        point(p.lat + (q.lat - p.lat) * fraction, p.lon + (q.lon - p.lon) * fraction)
    }
}

fn point(lat: f64, lon: f64) -> GeoPoint {
    GeoPoint::new(lat, lon).expect("preset positions lie on the map")
}

/// Initial bearing from `p` to `q`, degrees clockwise from north in `0..360`.
fn bearing(p: GeoPoint, q: GeoPoint) -> f64 {
    let (f1, f2) = (p.lat.to_radians(), q.lat.to_radians());
    let dl = (q.lon - p.lon).to_radians();
    let y = dl.sin() * f2.cos();
    let x = f1.cos() * f2.sin() - f1.sin() * f2.cos() * dl.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// A fixed camera in a preset.
#[derive(Clone, Copy)]
struct CamSpec {
    id: &'static str,
    agency: &'static str,
    kind: CameraKind,
    name: &'static str,
    lane: Option<&'static str>,
    faces: Faces,
    sees: Sees,
}

fn cam(id: &'static str, agency: &'static str, kind: CameraKind, name: &'static str, faces: Faces) -> CamSpec {
    CamSpec { id, agency, kind, name, lane: None, faces, sees: Sees::Both }
}

/// An ANPR camera over the lanes of a checkpoint that carry traffic one way (`lane` is `exit` or
/// `entry`, seen from the camera's country).
fn lane(
    id: &'static str,
    agency: &'static str,
    name: &'static str,
    faces: Faces,
    travel: Travel,
    lane: &'static str,
) -> CamSpec {
    CamSpec { id, agency, kind: CameraKind::Anpr, name, lane: Some(lane), faces, sees: Sees::Only(travel) }
}

struct StationSpec {
    lat: f64,
    lon: f64,
    road: &'static str,
    cameras: Vec<CamSpec>,
}

struct PatrolSpec {
    id: &'static str,
    agency: &'static str,
    name: &'static str,
    leg: usize,
}

struct DroneSpec {
    id: &'static str,
    agency: &'static str,
    name: &'static str,
    side: Side,
}

/// Assembles a preset: stations in road order, the border between two of them, the moving
/// cameras; headings and distances are computed from the positions.
struct Builder {
    name: &'static str,
    title: &'static str,
    sides: [CountryCode; 2],
    mix: Vec<(CountryCode, f64)>,
    stations: Vec<StationSpec>,
    crossing: usize,
    patrol: Option<PatrolSpec>,
    drone: Option<DroneSpec>,
    waits: (Wait, Wait),
}

impl Builder {
    fn new(name: &'static str, title: &'static str, a: CountryCode, b: CountryCode) -> Builder {
        let zero = Wait { min: 0.0, mode: 0.0, max: 0.0 };
        Builder {
            name,
            title,
            sides: [a, b],
            mix: Vec::new(),
            stations: Vec::new(),
            crossing: 0,
            patrol: None,
            drone: None,
            waits: (zero, zero),
        }
    }

    fn mix(&mut self, weights: &[(CountryCode, f64)]) {
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        self.mix = weights.iter().map(|&(c, w)| (c, w / total)).collect();
    }

    fn station(&mut self, lat: f64, lon: f64, road: &'static str, cameras: &[CamSpec]) {
        self.stations.push(StationSpec { lat, lon, road, cameras: cameras.to_vec() });
    }

    fn border(&mut self) {
        self.crossing = self.stations.len();
    }

    /// A patrol car driving leg `leg` (from station `leg` to the next one).
    fn patrol(&mut self, id: &'static str, agency: &'static str, name: &'static str, leg: usize) {
        self.patrol = Some(PatrolSpec { id, agency, name, leg });
    }

    /// A drone over the crossing, operated from `side`.
    fn drone(&mut self, id: &'static str, agency: &'static str, name: &'static str, side: Side) {
        self.drone = Some(DroneSpec { id, agency, name, side });
    }

    fn waits(&mut self, car: Wait, truck: Wait) {
        self.waits = (car, truck);
    }

    fn finish(self) -> Region {
        let positions: Vec<GeoPoint> = self.stations.iter().map(|s| point(s.lat, s.lon)).collect();
        let last = positions.len() - 1;
        let mut cameras = Vec::new();
        let mut stations = Vec::new();
        for (i, spec) in self.stations.iter().enumerate() {
            // The road's direction from A to B at this station.
            let towards_b = bearing(positions[i.saturating_sub(1)], positions[(i + 1).min(last)]);
            let country = if i < self.crossing { self.sides[0] } else { self.sides[1] };
            let mut sites = Vec::new();
            for c in &spec.cameras {
                let heading = match c.faces {
                    Faces::TowardsB => towards_b,
                    Faces::TowardsA => (towards_b + 180.0).rem_euclid(360.0),
                };
                sites.push(Site {
                    camera: cameras.len(),
                    faces: c.faces,
                    sees: c.sees,
                    read_rate: if c.kind == CameraKind::Anpr { 0.97 } else { 0.90 },
                });
                cameras.push(Camera {
                    id: CameraId::new(c.id).expect("preset camera ids are valid"),
                    agency: AgencyId::new(c.agency).expect("preset agency ids are valid"),
                    kind: c.kind,
                    position: Some(positions[i]),
                    heading: Some(heading.round().rem_euclid(360.0)),
                    road: Some(spec.road.to_owned()),
                    lane: c.lane.map(str::to_owned),
                    country,
                    name: Some(c.name.to_owned()),
                });
            }
            stations.push(Station { position: positions[i], sites });
        }
        let leg_m = positions.windows(2).map(|w| w[0].distance_m(&w[1])).collect();
        let midpoint = |p: GeoPoint, q: GeoPoint| point((p.lat + q.lat) / 2.0, (p.lon + q.lon) / 2.0);
        let side_country = |side: Side| match side {
            Side::A => self.sides[0],
            Side::B => self.sides[1],
        };
        let moving_camera = |id, agency, kind, position, country, name: &str| Camera {
            id: CameraId::new(id).expect("preset camera ids are valid"),
            agency: AgencyId::new(agency).expect("preset agency ids are valid"),
            kind,
            position: Some(position),
            heading: None,
            road: None,
            lane: None,
            country,
            name: Some(name.to_owned()),
        };
        let p = self.patrol.as_ref().expect("every preset has a patrol car");
        let side = if p.leg < self.crossing { Side::A } else { Side::B };
        let home = midpoint(positions[p.leg], positions[p.leg + 1]);
        let patrol = Patrol { camera: cameras.len(), leg: p.leg, read_rate: 0.3 };
        cameras.push(moving_camera(p.id, p.agency, CameraKind::Mobile, home, side_country(side), p.name));
        let d = self.drone.as_ref().expect("every preset has a drone");
        let center = midpoint(positions[self.crossing - 1], positions[self.crossing]);
        let drone = Drone { camera: cameras.len(), center, radius_m: 400.0, period_s: 600.0, read_rate: 0.35 };
        cameras.push(moving_camera(d.id, d.agency, CameraKind::Drone, center, side_country(d.side), d.name));
        Region {
            name: self.name,
            title: self.title,
            sides: self.sides,
            mix: self.mix,
            cameras,
            stations,
            crossing: self.crossing,
            leg_m,
            patrol,
            drone,
            car_wait: self.waits.0,
            truck_wait: self.waits.1,
        }
    }
}

/// A region is written as its name, e.g. `"ro-ua"`.
impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Region::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown region {name:?}, expected one of {}", Region::NAMES.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_their_bounds() {
        let wait = Wait { min: 30.0, mode: 120.0, max: 360.0 };
        assert_eq!(wait.quantile(0.0), 30.0);
        assert!((wait.quantile(1.0) - 360.0).abs() < 1e-9);
        let split = (120.0 - 30.0) / (360.0 - 30.0);
        assert!((wait.quantile(split) - 120.0).abs() < 1e-9);
        let mut last = 0.0;
        for i in 0..=100 {
            let w = wait.quantile(f64::from(i) / 100.0);
            assert!(w >= last && (30.0..=360.0).contains(&w));
            last = w;
        }
    }

    #[test]
    fn the_drone_circles_the_crossing() {
        let region = Region::ro_ua();
        let drone = &region.drone;
        for minute in 0..20 {
            let p = drone.position(1_780_293_600_000 + minute * 60_000);
            let r = p.distance_m(&drone.center);
            assert!((r - drone.radius_m).abs() < 5.0, "{r} m from the centre");
        }
    }

    #[test]
    fn checkpoint_cameras_see_one_way_and_look_at_it() {
        let region = Region::ro_ua();
        let border = &region.stations[region.crossing - 1];
        assert_eq!(border.sites.len(), 2);
        for site in &border.sites {
            let Sees::Only(travel) = site.sees else { panic!("a checkpoint lane sees one way") };
            assert!(site.approaching(travel));
        }
    }
}
