//! The demo tenant's world, derived from the seed alone: Kenya's 47
//! counties with their sub-counties, schools spread over them by
//! population, device models, the parts catalogue and what fits what.
//! Every value comes from a hash of (seed, what, index), so any one row
//! can be computed on its own: the device CSV of a million rows is
//! streamed, never held in memory, and the IMS phase recomputes a
//! device's model from its index.

/// SplitMix64's finaliser: a good 64-bit mix.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic generator for one item (a school, a device…).
pub struct Dice(u64);

impl Dice {
    /// The generator for item `i` of stream `salt` under `seed`.
    pub fn new(seed: u64, salt: u64, i: u64) -> Self {
        Self(mix(seed ^ mix(salt.wrapping_mul(0x0100_0000_01B3) ^ mix(i))))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// An index into `weights`, chosen by weight.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut n = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if n < w {
                return i;
            }
            n -= w;
        }
        0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Streams of the generator, so two uses of one index never correlate.
pub mod salt {
    pub const SCHOOL: u64 = 2;
    pub const CONTACT: u64 = 3;
    pub const DEVICE: u64 = 4;
    pub const PART: u64 = 5;
    pub const COMPAT: u64 = 6;
    pub const VENDOR: u64 = 7;
    pub const INCIDENTS: u64 = 8;
    pub const STAFF: u64 = 9;
    pub const STOCK: u64 = 10;
}

/// Kenya's counties in official code order (001 Mombasa … 047 Nairobi),
/// with the 2019 census population in thousands: schools and sub-counties
/// are spread by it.
pub const COUNTIES: [(&str, u32); 47] = [
    ("Mombasa", 1208),
    ("Kwale", 866),
    ("Kilifi", 1453),
    ("Tana River", 316),
    ("Lamu", 143),
    ("Taita-Taveta", 341),
    ("Garissa", 841),
    ("Wajir", 781),
    ("Mandera", 867),
    ("Marsabit", 459),
    ("Isiolo", 268),
    ("Meru", 1545),
    ("Tharaka-Nithi", 393),
    ("Embu", 608),
    ("Kitui", 1136),
    ("Machakos", 1421),
    ("Makueni", 987),
    ("Nyandarua", 638),
    ("Nyeri", 759),
    ("Kirinyaga", 610),
    ("Murang'a", 1056),
    ("Kiambu", 2417),
    ("Turkana", 926),
    ("West Pokot", 621),
    ("Samburu", 310),
    ("Trans Nzoia", 990),
    ("Uasin Gishu", 1163),
    ("Elgeyo-Marakwet", 454),
    ("Nandi", 885),
    ("Baringo", 666),
    ("Laikipia", 518),
    ("Nakuru", 2162),
    ("Narok", 1157),
    ("Kajiado", 1117),
    ("Kericho", 901),
    ("Bomet", 875),
    ("Kakamega", 1867),
    ("Vihiga", 590),
    ("Bungoma", 1670),
    ("Busia", 893),
    ("Siaya", 993),
    ("Kisumu", 1155),
    ("Homa Bay", 1131),
    ("Migori", 1116),
    ("Kisii", 1266),
    ("Nyamira", 605),
    ("Nairobi", 4397),
];

/// Counties this populous get a second shop, covering one sub-county.
pub const SECOND_SHOP_FROM: u32 = 1400;

const SUB_COUNTY_SUFFIXES: [&str; 17] = [
    "Central",
    "North",
    "South",
    "East",
    "West",
    "Township",
    "Rural",
    "Lower",
    "Upper",
    "Mashariki",
    "Magharibi",
    "Kaskazini",
    "Kusini",
    "Hills",
    "Lakeside",
    "Highlands",
    "Plains",
];

pub struct SubCounty {
    pub code: String,
    pub name: String,
}

pub struct County {
    pub code: String,
    pub name: &'static str,
    pub population: u32,
    pub sub_counties: Vec<SubCounty>,
}

/// Counties and sub-counties: 3 to 17 sub-counties each by population,
/// about 300 in all (Kenya has about 290).
pub struct Geography {
    pub counties: Vec<County>,
    weights: Vec<u32>,
}

impl Geography {
    pub fn new() -> Self {
        let total: u32 = COUNTIES.iter().map(|(_, p)| p).sum();
        let counties = COUNTIES
            .iter()
            .enumerate()
            .map(|(i, (name, population))| {
                let n = (3 + (population * 180 + total / 2) / total).min(17) as usize;
                let code = format!("{:03}", i + 1);
                let sub_counties = SUB_COUNTY_SUFFIXES[..n]
                    .iter()
                    .enumerate()
                    .map(|(j, suffix)| SubCounty {
                        code: format!("{code}{:02}", j + 1),
                        name: format!("{name} {suffix}"),
                    })
                    .collect();
                County {
                    code,
                    name,
                    population: *population,
                    sub_counties,
                }
            })
            .collect();
        Self {
            counties,
            weights: COUNTIES.iter().map(|(_, p)| *p).collect(),
        }
    }
}

const LEVELS: [(&str, &str, u32); 7] = [
    ("pre_primary", "ECDE Centre", 4),
    ("primary", "Primary School", 52),
    ("junior_secondary", "Junior School", 18),
    ("secondary", "Secondary School", 20),
    ("tvet", "Technical Training Institute", 3),
    ("special_needs", "Special School", 2),
    ("other", "Education Centre", 1),
];

const PLACES: [&str; 60] = [
    "Kamukunji",
    "Kiptere",
    "Moi Avenue",
    "Olympic",
    "St. Mary's",
    "St. Joseph's",
    "Kilimani",
    "Kangemi",
    "Muthaiga",
    "Mukuru",
    "Gatundu",
    "Kagwe",
    "Githiga",
    "Chania",
    "Mang'u",
    "Kianyaga",
    "Kerugoya",
    "Ngandori",
    "Kibabii",
    "Lugulu",
    "Kamusinga",
    "Chewoyet",
    "Kapsabet",
    "Nyabururu",
    "Kisii Town",
    "Nyambaria",
    "Maranda",
    "Ng'iya",
    "Kanga",
    "Onjiko",
    "Kakamega Hill",
    "Musingu",
    "Butere",
    "Shimo la Tewa",
    "Bahari",
    "Mama Ngina",
    "Ribe",
    "Malindi",
    "Garsen",
    "Hola",
    "Wajir Township",
    "Moyale",
    "Isiolo Barracks",
    "Maua",
    "Chogoria",
    "Kyeni",
    "Mwala",
    "Tala",
    "Kalawa",
    "Wote",
    "Ol Kalou",
    "Nyahururu",
    "Narumoru",
    "Kabarak",
    "Molo",
    "Njoro",
    "Kapkatet",
    "Litein",
    "Sigalagala",
    "Kimilili",
];

const FIRST_NAMES: [&str; 24] = [
    "Wanjiru",
    "Achieng",
    "Kamau",
    "Otieno",
    "Mutua",
    "Chebet",
    "Kiprotich",
    "Njeri",
    "Omondi",
    "Wambui",
    "Mwangi",
    "Akinyi",
    "Kipchoge",
    "Nafula",
    "Wekesa",
    "Atieno",
    "Kariuki",
    "Jepkosgei",
    "Hassan",
    "Amina",
    "Mohamed",
    "Fatuma",
    "Ouma",
    "Nyambura",
];
const LAST_NAMES: [&str; 20] = [
    "Kamau",
    "Odhiambo",
    "Mutiso",
    "Kiplagat",
    "Wafula",
    "Njoroge",
    "Onyango",
    "Cheruiyot",
    "Barasa",
    "Maina",
    "Okoth",
    "Mburu",
    "Kibet",
    "Ndungu",
    "Abdi",
    "Omar",
    "Ochieng",
    "Muthoni",
    "Rotich",
    "Wanyama",
];

pub fn person(d: &mut Dice) -> String {
    format!("{} {}", d.pick(&FIRST_NAMES), d.pick(&LAST_NAMES))
}

/// A Kenyan mobile number.
pub fn phone(d: &mut Dice) -> String {
    let prefix = *d.pick(&[700u64, 710, 711, 720, 722, 733, 740, 757, 768, 790, 110, 111]);
    format!("+254 {prefix} {:03} {:03}", d.below(1000), d.below(1000))
}

/// School `i` (0-based): where it is and what it is.
pub struct School {
    pub code: String,
    pub name: String,
    pub county: usize,
    pub sub_county: usize,
    pub level: &'static str,
    pub school_type: &'static str,
    pub sex: &'static str,
    pub accommodation: &'static str,
    pub knec_code: String,
}

pub fn school(geo: &Geography, seed: u64, i: u64) -> School {
    let mut d = Dice::new(seed, salt::SCHOOL, i);
    let county = d.weighted(&geo.weights);
    let sub_county = d.below(geo.counties[county].sub_counties.len() as u64) as usize;
    let level = LEVELS[d.weighted(&LEVELS.map(|l| l.2))];
    let school_type = if d.chance(150) { "private" } else { "public" };
    let secondary = matches!(level.0, "secondary" | "tvet");
    let sex = if secondary && d.chance(350) {
        *d.pick(&["boys", "girls"])
    } else {
        "mixed"
    };
    let accommodation = if secondary {
        *d.pick(&["boarding", "day", "day_and_boarding"])
    } else {
        "day"
    };
    let place = d.pick(&PLACES);
    let c = &geo.counties[county];
    let name = if d.chance(300) {
        format!("{} {}", c.sub_counties[sub_county].name, level.1)
    } else {
        format!("{place} {}", level.1)
    };
    School {
        code: format!("SCH-{:05}", i + 1),
        name,
        county,
        sub_county,
        level: level.0,
        school_type,
        sex,
        accommodation,
        knec_code: format!("{}{:06}", &c.code[1..], i + 1),
    }
}

/// What a device is; the parts it has and the faults it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Laptop,
    Tablet,
    Desktop,
    Projector,
    Printer,
    Network,
    Server,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Laptop => "laptop",
            Self::Tablet => "tablet",
            Self::Desktop => "desktop",
            Self::Projector => "projector",
            Self::Printer => "printer",
            Self::Network => "network",
            Self::Server => "server",
        }
    }

    /// The model-specific parts the catalogue lists (category, label, unit).
    fn parts(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            Self::Laptop => &[
                ("screen", "LCD screen assembly", "piece"),
                ("keyboard", "keyboard", "piece"),
                ("battery", "battery", "piece"),
                ("charger", "AC adapter", "piece"),
                ("hinge", "hinge set", "set"),
                ("storage", "256GB SSD", "piece"),
                ("memory", "8GB RAM module", "piece"),
                ("motherboard", "motherboard", "piece"),
                ("casing", "bottom case", "piece"),
                ("cable", "display cable", "piece"),
            ],
            Self::Tablet => &[
                ("screen", "touch screen and digitizer", "piece"),
                ("battery", "battery", "piece"),
                ("charger", "charger", "piece"),
                ("casing", "back cover", "piece"),
                ("motherboard", "mainboard", "piece"),
                ("cable", "charging port flex cable", "piece"),
            ],
            Self::Desktop => &[
                ("storage", "512GB SSD", "piece"),
                ("memory", "8GB RAM module", "piece"),
                ("motherboard", "motherboard", "piece"),
                ("charger", "power supply unit", "piece"),
                ("cable", "SATA cable kit", "kit"),
            ],
            Self::Projector => &[
                ("misc", "replacement lamp", "piece"),
                ("motherboard", "main board", "piece"),
                ("cable", "HDMI input board cable", "piece"),
            ],
            Self::Printer => &[
                ("misc", "toner/ink kit", "kit"),
                ("motherboard", "formatter board", "piece"),
                ("cable", "USB printer cable", "piece"),
            ],
            Self::Network => &[
                ("charger", "PoE adapter", "piece"),
                ("motherboard", "main board", "piece"),
            ],
            Self::Server => &[
                ("storage", "1TB SAS disk", "piece"),
                ("memory", "16GB ECC RAM module", "piece"),
                ("charger", "power supply unit", "piece"),
                ("motherboard", "system board", "piece"),
            ],
        }
    }

    /// Faults a school reports: (title, incident category, part category
    /// a repair uses, if any).
    pub fn faults(self) -> &'static [(&'static str, &'static str, Option<&'static str>)] {
        match self {
            Self::Laptop => &[
                ("Cracked screen", "hardware", Some("screen")),
                ("Keyboard keys missing", "hardware", Some("keyboard")),
                ("Battery does not hold charge", "hardware", Some("battery")),
                ("Will not charge", "hardware", Some("charger")),
                ("Broken hinge", "hardware", Some("hinge")),
                ("Slow to boot, disk errors", "hardware", Some("storage")),
                ("No Wi-Fi connection", "network", None),
                ("Operating system will not start", "software", None),
                ("Does not power on", "hardware", Some("motherboard")),
            ],
            Self::Tablet => &[
                ("Cracked screen", "hardware", Some("screen")),
                ("Battery swollen", "hardware", Some("battery")),
                ("Charger lost or damaged", "hardware", Some("charger")),
                ("Will not charge", "hardware", Some("cable")),
                ("Back cover broken", "hardware", Some("casing")),
                ("Stuck on boot logo", "software", None),
                ("Learning apps crash", "software", None),
                ("No Wi-Fi connection", "network", None),
                ("Does not power on", "hardware", Some("motherboard")),
            ],
            Self::Desktop => &[
                ("Does not power on", "hardware", Some("charger")),
                ("Disk failure", "hardware", Some("storage")),
                ("Random restarts, memory errors", "hardware", Some("memory")),
                ("No network connection", "network", None),
                ("Operating system will not start", "software", None),
            ],
            Self::Projector => &[
                ("Lamp failure", "hardware", Some("misc")),
                ("No HDMI signal", "hardware", Some("cable")),
                ("Does not power on", "hardware", Some("motherboard")),
            ],
            Self::Printer => &[
                ("Paper jam", "hardware", None),
                ("Toner or ink empty", "hardware", Some("misc")),
                ("Not visible on the network", "network", None),
            ],
            Self::Network => &[
                ("Access point offline", "network", None),
                ("PoE adapter failed", "hardware", Some("charger")),
            ],
            Self::Server => &[
                ("Disk failure", "hardware", Some("storage")),
                ("Power supply failed", "hardware", Some("charger")),
                ("Memory errors", "hardware", Some("memory")),
            ],
        }
    }
}

pub struct Model {
    pub make: &'static str,
    pub model: &'static str,
    pub kind: DeviceKind,
    /// Share of a school's devices, in relative units.
    pub weight: u32,
    /// Serial number prefix, as the maker prints them.
    pub serial_prefix: &'static str,
}

const fn m(
    make: &'static str,
    model: &'static str,
    kind: DeviceKind,
    weight: u32,
    serial_prefix: &'static str,
) -> Model {
    Model {
        make,
        model,
        kind,
        weight,
        serial_prefix,
    }
}

use DeviceKind::{Desktop, Laptop, Network, Printer, Projector, Server, Tablet};

/// Forty device models: mostly learner tablets and teacher laptops.
pub const MODELS: [Model; 40] = [
    m("HP", "ProBook 440 G8", Laptop, 40, "5CD"),
    m("HP", "ProBook 440 G9", Laptop, 30, "5CG"),
    m("HP", "EliteBook 840 G5", Laptop, 15, "5CH"),
    m("HP", "250 G8", Laptop, 35, "CND"),
    m("HP", "Chromebook 11 G9 EE", Laptop, 20, "5CQ"),
    m("Dell", "Latitude 3420", Laptop, 30, "DL3"),
    m("Dell", "Latitude 5400", Laptop, 15, "DL5"),
    m("Dell", "Vostro 3510", Laptop, 20, "DV3"),
    m("Lenovo", "ThinkPad E14 Gen 2", Laptop, 25, "PF2"),
    m("Lenovo", "ThinkPad L13 Yoga", Laptop, 10, "PF3"),
    m("Lenovo", "IdeaPad 3 15", Laptop, 20, "PF4"),
    m("Acer", "TravelMate B311", Laptop, 20, "NXV"),
    m("Acer", "Chromebook 311", Laptop, 15, "NXH"),
    m("Acer", "Aspire 3 A315", Laptop, 15, "NXA"),
    m("Samsung", "Galaxy Tab A7 SM-T505", Tablet, 80, "R9T"),
    m("Samsung", "Galaxy Tab A8 SM-X205", Tablet, 70, "R9X"),
    m("Samsung", "Galaxy Tab A7 Lite", Tablet, 40, "R9L"),
    m("Huawei", "MatePad T10", Tablet, 45, "HWT"),
    m("Huawei", "MatePad T8", Tablet, 30, "HW8"),
    m("Lenovo", "Tab M10 HD", Tablet, 40, "HGA"),
    m("Lenovo", "Tab M8", Tablet, 25, "HGB"),
    m("Positivo BGH", "Learner Digital Device LD7", Tablet, 90, "PBL"),
    m("Positivo BGH", "Teacher Digital Device TD14", Laptop, 30, "PBT"),
    m("Tecno", "DroiPad 10D", Tablet, 20, "TEC"),
    m("Alcatel", "1T 10 Smart", Tablet, 15, "ALC"),
    m("Apple", "iPad 9th generation", Tablet, 10, "DMP"),
    m("HP", "ProDesk 400 G7", Desktop, 25, "8CC"),
    m("Dell", "OptiPlex 3080", Desktop, 25, "DO3"),
    m("Lenovo", "ThinkCentre M70q", Desktop, 15, "MJ0"),
    m("Acer", "Veriton X2690G", Desktop, 10, "DTV"),
    m("HP", "290 G4", Desktop, 10, "8CG"),
    m("Epson", "EB-X41", Projector, 12, "X4L"),
    m("BenQ", "MS550", Projector, 8, "PDB"),
    m("ViewSonic", "PA503S", Projector, 6, "VSP"),
    m("HP", "LaserJet Pro M404dn", Printer, 6, "PHB"),
    m("Epson", "EcoTank L3250", Printer, 6, "X8Q"),
    m("TP-Link", "EAP225", Network, 8, "TPL"),
    m("Ubiquiti", "UniFi U6 Lite", Network, 5, "UBQ"),
    m("MikroTik", "hAP ac2", Network, 4, "MTK"),
    m("Dell", "PowerEdge T150", Server, 1, "DPE"),
];

pub fn model_weights() -> Vec<u32> {
    MODELS.iter().map(|m| m.weight).collect()
}

/// Device `n` (0-based) of school `s` (0-based): its model, serial and
/// asset tag. Global index `s * per_school + n` keeps serials unique.
pub struct Device {
    pub model: usize,
    pub serial: String,
    pub asset_tag: String,
    pub lifecycle: &'static str,
    pub enrolled: bool,
}

pub fn device(seed: u64, weights: &[u32], school_code: &str, global: u64, n: u64) -> Device {
    let mut d = Dice::new(seed, salt::DEVICE, global);
    let model = d.weighted(weights);
    let lifecycle = ["deployed", "in_repair", "in_stock", "retired", "lost"][d.weighted(&[930, 30, 25, 10, 5])];
    Device {
        model,
        serial: format!("{}{:02X}{:07}", MODELS[model].serial_prefix, d.below(256), global + 1),
        asset_tag: format!("MOE/{school_code}/{:04}", n + 1),
        lifecycle,
        enrolled: !d.chance(80),
    }
}

/// A part of the catalogue.
pub struct Part {
    pub puk: String,
    pub sku: String,
    pub name: String,
    pub category: &'static str,
    pub unit: &'static str,
    pub unit_cost_cents: i64,
    /// Models it fits (indexes into MODELS); empty = fits anything.
    pub fits: Vec<usize>,
    /// The model it is made for (model-specific parts).
    pub made_for: Option<usize>,
}

fn base_cost_kes(category: &str) -> i64 {
    match category {
        "screen" => 9_000,
        "keyboard" => 3_500,
        "battery" => 4_500,
        "charger" => 2_500,
        "hinge" => 1_500,
        "storage" => 5_000,
        "memory" => 3_000,
        "motherboard" => 18_000,
        "casing" => 2_000,
        "cable" => 800,
        "network" => 6_000,
        _ => 1_200,
    }
}

/// Generic parts: (category, name, unit, kinds of device it fits).
fn generic_parts() -> Vec<(&'static str, String, &'static str, &'static [DeviceKind])> {
    const PCS: &[DeviceKind] = &[Laptop, Desktop, Server];
    let mut out = Vec::new();
    for brand in ["Kingston", "Crucial", "Samsung", "ADATA", "Transcend"] {
        for ty in ["DDR4 SODIMM 3200", "DDR4 DIMM 3200", "DDR3L SODIMM 1600"] {
            for size in ["4GB", "8GB", "16GB", "32GB"] {
                out.push(("memory", format!("{brand} {size} {ty}"), "piece", PCS));
            }
        }
    }
    for brand in ["Kingston", "Samsung", "WD", "Crucial", "ADATA", "Transcend"] {
        for ty in ["2.5\" SATA SSD", "M.2 NVMe SSD", "M.2 SATA SSD"] {
            for size in ["128GB", "256GB", "512GB", "1TB"] {
                out.push(("storage", format!("{brand} {size} {ty}"), "piece", PCS));
            }
        }
    }
    for (name, fits) in [
        ("45W USB-C charger", &[Laptop][..]),
        ("65W USB-C charger", &[Laptop]),
        ("65W 4.5mm barrel charger", &[Laptop]),
        ("65W 7.4mm barrel charger", &[Laptop]),
        ("90W 4.5mm barrel charger", &[Laptop]),
        ("10W micro-USB charger", &[Tablet]),
        ("15W USB-C charger", &[Tablet]),
        ("25W USB-C fast charger", &[Tablet]),
    ] {
        for kind in ["original", "universal"] {
            out.push(("charger", format!("{name} ({kind})"), "piece", fits));
        }
    }
    for name in [
        "HDMI cable 1.5m",
        "HDMI cable 3m",
        "HDMI cable 10m",
        "VGA cable 1.5m",
        "VGA cable 5m",
        "Cat6 patch cable 1m",
        "Cat6 patch cable 2m",
        "Cat6 patch cable 3m",
        "Cat6 patch cable 5m",
        "Cat6 patch cable 10m",
        "USB-C cable 1m",
        "Micro-USB cable 1m",
        "C5 power cord",
        "C7 power cord",
        "C13 power cord",
        "USB-C to HDMI adapter",
        "Extension cable 4-way",
        "Extension cable 6-way",
        "3.5mm audio cable",
        "Cat6 cable box 305m",
    ] {
        out.push(("cable", name.to_owned(), "piece", &[]));
    }
    for name in [
        "8-port gigabit switch",
        "16-port gigabit switch",
        "24-port gigabit switch",
        "24-port PoE switch",
        "PoE injector 24V",
        "PoE injector 48V",
        "SFP module 1G",
        "4G LTE router",
        "24-port patch panel",
        "RJ45 connectors (100)",
        "Keystone jack Cat6",
        "Wall faceplate dual",
    ] {
        out.push(("network", name.to_owned(), "piece", &[]));
    }
    for size in ["7\"", "8\"", "8.7\"", "10.1\"", "10.4\"", "10.5\"", "11\""] {
        for ty in [
            "tempered glass screen protector",
            "screen protector film",
            "folio cover",
            "rugged cover",
        ] {
            out.push(("misc", format!("{size} {ty}"), "piece", &[Tablet]));
        }
    }
    for name in [
        "Thermal paste 4g",
        "Laptop screw kit",
        "Screen cleaning kit",
        "CMOS battery CR2032",
        "USB keyboard",
        "USB mouse",
        "USB headset",
        "USB webcam 1080p",
        "UPS battery 12V 7Ah",
        "UPS battery 12V 9Ah",
        "Power bank 10000mAh",
        "Power bank 20000mAh",
    ] {
        out.push(("misc", name.to_owned(), "piece", &[]));
    }
    out
}

/// The catalogue: every model's own parts, then generic ones (about 500).
/// Model-specific parts come first, in MODELS order, so `model_part`
/// finds them without a search.
pub struct Catalogue {
    pub parts: Vec<Part>,
}

impl Catalogue {
    pub fn new(seed: u64) -> Self {
        let mut parts = Vec::new();
        let mut push = |category: &'static str, name: String, unit: &'static str, fits: Vec<usize>, made_for| {
            let i = parts.len() as u64;
            let mut d = Dice::new(seed, salt::PART, i);
            let base = base_cost_kes(category);
            let cost = base + (base * d.below(60) as i64) / 100;
            parts.push(Part {
                puk: format!("PUK-{:05}", i + 1),
                sku: format!("{}-{:04}", category[..3].to_ascii_uppercase(), i + 1),
                name,
                category,
                unit,
                unit_cost_cents: cost * 100,
                fits,
                made_for,
            });
        };
        for (mi, model) in MODELS.iter().enumerate() {
            for (category, label, unit) in model.kind.parts() {
                push(
                    category,
                    format!("{} {} {label}", model.make, model.model),
                    unit,
                    vec![mi],
                    Some(mi),
                );
            }
        }
        for (gi, (category, name, unit, kinds)) in generic_parts().into_iter().enumerate() {
            // A generic part fits about 40% of the models of its kinds.
            let fits = MODELS
                .iter()
                .enumerate()
                .filter(|(mi, m)| {
                    kinds.contains(&m.kind) && Dice::new(seed, salt::COMPAT, (gi * 64 + mi) as u64).chance(400)
                })
                .map(|(mi, _)| mi)
                .collect();
            push(category, name, unit, fits, None);
        }
        Self { parts }
    }

    /// The part of `category` made for model `model`, if the catalogue has one.
    pub fn model_part(&self, model: usize, category: &str) -> Option<usize> {
        self.parts
            .iter()
            .position(|p| p.made_for == Some(model) && p.category == category)
    }
}

/// Distributors a part may be bought from.
pub const VENDORS: [(&str, &str); 4] = [
    ("vendor-moi-ict", "MOI"),
    ("vendor-jkuat-enterprises", "JKE"),
    ("vendor-mfi-office", "MFI"),
    ("vendor-redington-ke", "RDK"),
];
