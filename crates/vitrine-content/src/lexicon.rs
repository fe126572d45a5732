//! The vocabularies claims are recognised by: colours (with families, so "navy" and "blue" agree and
//! "gray" equals "grey"), materials (with equivalences), capabilities, certifications, gender words and
//! units. Matching is by whole words after [`crate::text::words`], longest phrase first.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What a recognised phrase claims.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// A colour.
    Colour,
    /// A material or fabric.
    Material,
    /// A number, with its unit or the thing it counts.
    Number,
    /// A feature or capability ("waterproof", "machine washable", "anti-slip").
    Capability,
    /// A certification or test ("ISO certified", "dermatologically tested").
    Certification,
    /// Who it is for (men, women, kids, unisex).
    Gender,
    /// A warranty or guarantee.
    Warranty,
    /// Compatibility ("compatible with …", "fits …").
    Compatibility,
    /// What the product is ("jeans", "scarf", "sofa"): copy about another kind of product is wrong.
    ProductType,
}

/// Colour phrases and their families (`|`-separated). A claimed colour is supported when one of its
/// families is among the product's.
#[rustfmt::skip]
const COLOURS: &[(&str, &str)] = &[
    ("black", "black"), ("jet black", "black"), ("ebony", "black"), ("onyx", "black"),
    ("white", "white"), ("off white", "white|beige"), ("ivory", "white|beige"), ("cream", "white|beige"),
    ("snow white", "white"), ("pearl", "white"),
    ("grey", "grey"), ("gray", "grey"), ("charcoal", "grey|black"), ("ash", "grey"), ("slate", "grey"),
    ("silver", "silver|grey"), ("gunmetal", "grey|silver"), ("platinum", "silver|grey"),
    ("melange", "grey"), ("heather", "grey"),
    ("blue", "blue"), ("navy", "blue"), ("navy blue", "blue"), ("royal blue", "blue"), ("sky blue", "blue"),
    ("light blue", "blue"), ("dark blue", "blue"), ("cobalt", "blue"), ("indigo", "blue"), ("denim blue", "blue"),
    ("powder blue", "blue"), ("steel blue", "blue"), ("azure", "blue"), ("turquoise", "blue|green"),
    ("teal", "blue|green"), ("aqua", "blue|green"), ("cyan", "blue"), ("blue green", "blue|green"),
    ("red", "red"), ("maroon", "red"), ("burgundy", "red"), ("wine", "red"), ("crimson", "red"),
    ("scarlet", "red"), ("cherry", "red"), ("ruby", "red"), ("brick", "red|orange"), ("rust", "orange|red|brown"),
    ("oxblood", "red"), ("rose", "pink|red"),
    ("pink", "pink"), ("fuchsia", "pink|purple"), ("magenta", "pink|purple"), ("blush", "pink"),
    ("peach", "pink|orange"), ("coral", "pink|orange"), ("salmon", "pink|orange"), ("nude", "beige|pink"),
    ("rose gold", "gold|pink"),
    ("green", "green"), ("olive", "green"), ("olive green", "green"), ("mint", "green"), ("lime", "green|yellow"),
    ("sea green", "green"), ("bottle green", "green"), ("emerald", "green"), ("khaki", "green|beige|brown"),
    ("sage", "green"), ("forest green", "green"), ("army green", "green"), ("pista", "green"),
    ("yellow", "yellow"), ("mustard", "yellow"), ("lemon", "yellow"), ("golden", "gold|yellow"),
    ("gold", "gold|yellow"), ("bronze", "gold|brown"), ("copper", "orange|brown|gold"),
    ("orange", "orange"), ("tangerine", "orange"), ("apricot", "orange"),
    ("brown", "brown"), ("tan", "brown|beige"), ("coffee", "brown"), ("chocolate", "brown"),
    ("camel", "brown|beige"), ("mocha", "brown"), ("taupe", "brown|grey|beige"), ("mushroom", "brown|grey|beige"),
    ("beige", "beige"), ("sand", "beige"), ("fawn", "beige|brown"), ("skin", "beige"), ("champagne", "beige|gold"),
    ("purple", "purple"), ("violet", "purple"), ("lavender", "purple"), ("mauve", "purple|pink"),
    ("lilac", "purple"), ("plum", "purple"), ("grape", "purple"), ("aubergine", "purple"),
    ("multicoloured", "multi"), ("multicolored", "multi"), ("multi coloured", "multi"),
    ("multi colored", "multi"), ("multicolour", "multi"), ("multi", "multi"), ("transparent", "transparent"),
];

/// Material phrases and their canonical names; equal canonical names are the same material.
#[rustfmt::skip]
const MATERIALS: &[(&str, &str)] = &[
    ("cotton", "cotton"), ("organic cotton", "cotton"), ("pure cotton", "cotton"), ("linen", "linen"),
    ("silk", "silk"), ("art silk", "art silk"), ("wool", "wool"), ("woollen", "wool"), ("woolen", "wool"),
    ("merino", "wool"), ("cashmere", "cashmere"), ("leather", "leather"), ("genuine leather", "leather"),
    ("suede", "suede"), ("nubuck", "nubuck"), ("denim", "denim"), ("nylon", "nylon"), ("polyamide", "nylon"),
    ("rayon", "viscose"), ("viscose", "viscose"), ("spandex", "elastane"), ("elastane", "elastane"),
    ("lycra", "elastane"), ("modal", "modal"), ("acrylic", "acrylic"), ("jute", "jute"), ("canvas", "canvas"),
    ("velvet", "velvet"), ("satin", "satin"), ("chiffon", "chiffon"), ("georgette", "georgette"),
    ("crepe", "crepe"), ("lace", "lace"), ("fleece", "fleece"), ("corduroy", "corduroy"), ("khadi", "khadi"),
    ("chambray", "chambray"), ("muslin", "muslin"), ("organza", "organza"), ("tulle", "tulle"),
    ("rubber", "rubber"), ("eva", "eva"), ("pu", "synthetic leather"), ("polyurethane", "synthetic leather"),
    ("faux leather", "synthetic leather"), ("synthetic leather", "synthetic leather"),
    ("vegan leather", "synthetic leather"), ("pu leather", "synthetic leather"),
    ("leatherette", "synthetic leather"), ("polyester", "polyester"), ("terylene", "polyester"),
    ("metal", "metal"), ("brass", "brass"), ("copper", "copper"), ("steel", "steel"),
    ("stainless steel", "stainless steel"), ("aluminium", "aluminium"), ("aluminum", "aluminium"),
    ("alloy", "alloy"), ("zinc", "zinc"), ("titanium", "titanium"), ("plastic", "plastic"),
    ("polycarbonate", "polycarbonate"), ("abs", "abs"), ("wood", "wood"), ("wooden", "wood"),
    ("bamboo", "bamboo"), ("glass", "glass"), ("ceramic", "ceramic"), ("porcelain", "porcelain"),
    ("synthetic", "synthetic"), ("mesh", "mesh"), ("foam", "foam"), ("memory foam", "memory foam"),
    ("microfibre", "microfibre"), ("microfiber", "microfibre"), ("terry", "terry"), ("twill", "twill"),
    ("poplin", "poplin"), ("flannel", "flannel"), ("tweed", "tweed"), ("sterling silver", "sterling silver"),
    ("german silver", "german silver"), ("silicone", "silicone"), ("latex", "latex"), ("down", "down"),
    ("mohair", "mohair"), ("angora", "angora"), ("hemp", "hemp"), ("tencel", "lyocell"), ("lyocell", "lyocell"),
    ("resin", "resin"), ("marble", "marble"), ("stone", "stone"), ("cork", "cork"), ("felt", "felt"),
    ("chenille", "chenille"), ("taffeta", "taffeta"), ("brocade", "brocade"), ("jacquard", "jacquard"),
    ("voile", "voile"), ("cambric", "cambric"), ("polycotton", "polyester|cotton"),
];

/// Materials whose presence implies another (a claim of the implied one is then supported).
#[rustfmt::skip]
pub const MATERIAL_IMPLIES: &[(&str, &str)] = &[
    ("stainless steel", "steel"), ("stainless steel", "metal"), ("steel", "metal"), ("brass", "metal"),
    ("aluminium", "metal"), ("copper", "metal"), ("zinc", "metal"), ("alloy", "metal"),
    ("titanium", "metal"), ("sterling silver", "metal"), ("german silver", "metal"),
    ("memory foam", "foam"), ("denim", "cotton"), ("elastane", "synthetic"), ("polyester", "synthetic"),
    ("nylon", "synthetic"), ("acrylic", "synthetic"), ("synthetic leather", "synthetic"),
    ("viscose", "synthetic"), ("chambray", "cotton"), ("terry", "cotton"), ("poplin", "cotton"),
];

/// Capability phrases; canonical names are the words joined without spaces.
#[rustfmt::skip]
const CAPABILITIES: &[&str] = &[
    "waterproof", "water proof", "water resistant", "water repellent", "windproof", "weatherproof",
    "shockproof", "dustproof", "fireproof", "fire resistant", "flame retardant", "scratch resistant",
    "stain resistant", "wrinkle free", "wrinkle resistant", "crease resistant", "non iron", "easy iron",
    "anti wrinkle", "anti bacterial", "antibacterial", "antimicrobial", "anti microbial", "anti odour",
    "anti odor", "odour control", "odor control", "odour resistant", "anti static", "antistatic", "anti slip",
    "non slip", "slip resistant", "anti skid", "anti fog", "anti glare", "uv protection", "uv resistant",
    "uv protected", "breathable", "moisture wicking", "sweat wicking", "quick dry", "quick drying",
    "fast drying", "machine washable", "machine wash", "hand wash", "dry clean", "dishwasher safe",
    "microwave safe", "oven safe", "bpa free", "lead free", "nickel free", "hypoallergenic", "organic",
    "eco friendly", "biodegradable", "recyclable", "recycled", "sustainable", "vegan", "cruelty free",
    "paraben free", "sulphate free", "sulfate free", "alcohol free", "fragrance free", "handmade",
    "handcrafted", "hand crafted", "hand embroidered", "hand woven", "handwoven", "hand painted", "thermal",
    "insulated", "heated", "padded", "wired", "underwired", "reversible",
    "adjustable", "detachable", "removable", "foldable", "collapsible", "stretchable", "wireless",
    "bluetooth", "rechargeable", "noise cancelling", "noise cancellation", "touchscreen", "touch screen",
    "rust proof", "rust resistant", "tarnish free", "tarnish resistant", "anti tarnish", "fade resistant",
    "colourfast", "colorfast", "shrink resistant", "pre shrunk", "preshrunk", "non stick", "cordless",
    "tsa lock", "tsa approved", "smudge proof", "smudgeproof", "transfer proof", "long lasting",
    "sweat proof", "sweatproof", "leak proof", "leakproof", "spill proof", "odourless", "seamless",
    "lined", "unlined", "reflective", "waterless", "washable", "ergonomic", "orthopaedic", "orthopedic",
    "anti pilling", "wrinkle proof", "stain proof", "windbreaker", "insect repellent", "mosquito repellent",
    "gps", "nfc", "water based", "oil free", "non comedogenic", "spf", "solar powered", "battery operated",
];

/// Certification phrases.
#[rustfmt::skip]
const CERTIFICATIONS: &[&str] = &[
    "certified", "certification", "iso", "bis", "isi", "oeko tex", "gots", "ce marked", "fda approved",
    "dermatologically tested", "dermatologist tested", "dermatologist approved", "clinically tested",
    "clinically proven", "lab tested", "ayush", "ecocert", "fair trade", "fairtrade", "energy star",
    "hallmarked", "hallmark", "bis hallmark", "ul listed",
];

/// Gender words and their canonical group.
#[rustfmt::skip]
const GENDERS: &[(&str, &str)] = &[
    ("men", "men"), ("man", "men"), ("men's", "men"), ("mens", "men"), ("male", "men"), ("gents", "men"),
    ("him", "men"), ("boys", "boys"), ("boy", "boys"), ("boy's", "boys"),
    ("women", "women"), ("woman", "women"), ("women's", "women"), ("womens", "women"), ("ladies", "women"),
    ("lady", "women"), ("female", "women"), ("her", "women"), ("girls", "girls"), ("girl", "girls"),
    ("girl's", "girls"), ("unisex", "unisex"), ("kids", "kids"), ("kid", "kids"), ("children", "kids"),
    ("child", "kids"), ("infant", "kids"), ("infants", "kids"), ("baby", "kids"), ("toddler", "kids"),
];

/// Product types (singular; plurals match through [`crate::text::singular`]). Ambiguous words ("top",
/// "watch", "ring", "set") are left out.
#[rustfmt::skip]
const PRODUCT_TYPES: &[&str] = &[
    "shirt", "t-shirt", "tshirt", "tee", "polo", "jeans", "jean", "trousers", "trouser", "pants", "chinos",
    "shorts", "skirt", "dress", "gown", "kurta", "kurti", "saree", "sari", "lehenga", "dupatta", "salwar",
    "churidar", "palazzo", "leggings", "jeggings", "tights", "jumpsuit", "playsuit", "dungarees", "blouse",
    "tunic", "jacket", "blazer", "coat", "waistcoat", "sweater", "cardigan", "pullover", "sweatshirt",
    "hoodie", "scarf", "stole", "shawl", "muffler", "cap", "hat", "beanie", "gloves", "socks", "bra",
    "briefs", "boxers", "trunks", "vest", "camisole", "nightdress", "pyjamas", "lingerie", "swimsuit",
    "bikini", "shoes", "shoe", "sneakers", "sneaker", "boots", "boot", "sandals", "sandal", "heels",
    "flats", "loafers", "slippers", "flip-flops", "ballerinas", "moccasins", "brogues", "bag", "handbag",
    "backpack", "wallet", "clutch", "tote", "sling", "suitcase", "trolley", "luggage", "belt", "tie",
    "necklace", "earrings", "bracelet", "bangle", "bangles", "pendant", "anklet", "sunglasses", "spectacles",
    "smartwatch", "perfume", "deodorant", "lipstick", "eyeshadow", "foundation", "mascara", "kajal",
    "nail", "shampoo", "conditioner", "serum", "moisturiser", "moisturizer", "cream", "lotion", "sofa",
    "chair", "table", "desk", "bed", "mattress", "pillow", "cushion", "curtain", "curtains", "bedsheet",
    "blanket", "quilt", "towel", "rug", "carpet", "lamp", "vase", "mug", "bottle", "furniture", "phone",
    "laptop", "headphones", "earphones", "speaker", "toy", "book",
];

/// Warranty words.
const WARRANTY: &[&str] = &["warranty", "warranted", "guarantee", "guaranteed"];

/// A matched phrase: what it claims and its canonical value(s).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The phrase as words.
    pub words: Vec<String>,
    /// The kind of claim.
    pub kind: ClaimKind,
    /// Canonical values (colour families, material names, the joined capability …).
    pub canonical: Vec<String>,
}

/// All phrases, indexed by their first word, longest first.
pub struct Lexicon {
    by_first: HashMap<String, Vec<Entry>>,
}

fn split_words(phrase: &str) -> Vec<String> {
    phrase.split_whitespace().map(str::to_string).collect()
}

impl Lexicon {
    fn build() -> Self {
        let mut by_first: HashMap<String, Vec<Entry>> = HashMap::new();
        let mut add = |phrase: &str, kind: ClaimKind, canonical: Vec<String>| {
            let words = split_words(phrase);
            by_first.entry(words[0].clone()).or_default().push(Entry {
                words,
                kind,
                canonical,
            });
        };
        for (p, fam) in COLOURS {
            add(
                p,
                ClaimKind::Colour,
                fam.split('|').map(str::to_string).collect(),
            );
        }
        for (p, c) in MATERIALS {
            add(
                p,
                ClaimKind::Material,
                c.split('|').map(str::to_string).collect(),
            );
        }
        for p in CAPABILITIES {
            add(p, ClaimKind::Capability, vec![p.replace(' ', "")]);
        }
        for p in CERTIFICATIONS {
            add(p, ClaimKind::Certification, vec![p.replace(' ', "")]);
        }
        for (p, g) in GENDERS {
            add(p, ClaimKind::Gender, vec![g.to_string()]);
        }
        for p in PRODUCT_TYPES {
            if !COLOURS.iter().any(|(c, _)| c == p) {
                add(
                    p,
                    ClaimKind::ProductType,
                    vec![crate::text::singular(p).to_string()],
                );
            }
        }
        for p in WARRANTY {
            add(p, ClaimKind::Warranty, vec!["warranty".into()]);
        }
        for entries in by_first.values_mut() {
            entries.sort_by_key(|e| std::cmp::Reverse(e.words.len()));
        }
        Self { by_first }
    }

    /// The shared lexicon.
    pub fn get() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(Lexicon::build)
    }

    /// Every entry whose phrase starts at `words[at]`, longest first (a word may be both a colour and a
    /// material, like "copper").
    pub fn matches_at(&self, words: &[&str], at: usize) -> Vec<&Entry> {
        let Some(first) = words.get(at) else {
            return Vec::new();
        };
        let Some(entries) = self.by_first.get(*first) else {
            return Vec::new();
        };
        let mut out: Vec<&Entry> = Vec::new();
        for e in entries {
            let fits = e.words.len() <= words.len() - at
                && e.words.iter().zip(&words[at..]).all(|(a, b)| a == b);
            if fits && out.first().is_none_or(|f| f.words.len() == e.words.len()) {
                out.push(e);
            }
        }
        out
    }

    /// Colour phrases (for the evaluation set's alterations).
    pub fn colour_phrases() -> impl Iterator<Item = (&'static str, &'static str)> {
        COLOURS.iter().copied()
    }

    /// Material phrases (for the evaluation set's alterations).
    pub fn material_phrases() -> impl Iterator<Item = (&'static str, &'static str)> {
        MATERIALS.iter().copied()
    }
}

/// A unit: its dimension and factor to the dimension's base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    /// `length`, `mass`, `volume`, `time`, `percent`, `money`, `data`, `power`, `charge`, …
    pub dimension: &'static str,
    /// Multiply by this to reach the base unit (mm, g, ml, day …).
    pub factor: f64,
}

/// Looks up a unit word (already lower-cased).
pub fn unit(word: &str) -> Option<Unit> {
    let u = |dimension, factor| Some(Unit { dimension, factor });
    match word {
        "mm" | "millimetre" | "millimetres" | "millimeter" | "millimeters" => u("length", 1.0),
        "cm" | "cms" | "centimetre" | "centimetres" | "centimeter" | "centimeters" => {
            u("length", 10.0)
        }
        "m" | "metre" | "metres" | "meter" | "meters" | "mtr" | "mtrs" => u("length", 1000.0),
        "inch" | "inches" | "\"" => u("length", 25.4),
        "ft" | "feet" | "foot" => u("length", 304.8),
        "mg" => u("mass", 0.001),
        "g" | "gm" | "gms" | "gram" | "grams" | "gr" => u("mass", 1.0),
        "kg" | "kgs" | "kilogram" | "kilograms" => u("mass", 1000.0),
        "lb" | "lbs" | "pound" | "pounds" => u("mass", 453.592),
        "oz" | "ounce" | "ounces" => u("mass", 28.3495),
        "ml" | "millilitre" | "millilitres" | "milliliter" | "milliliters" => u("volume", 1.0),
        "l" | "litre" | "litres" | "liter" | "liters" | "ltr" | "ltrs" => u("volume", 1000.0),
        "day" | "days" => u("time", 1.0),
        "week" | "weeks" => u("time", 7.0),
        "month" | "months" | "mth" | "mths" => u("time", 30.4),
        "year" | "years" | "yr" | "yrs" => u("time", 365.0),
        "hour" | "hours" | "hr" | "hrs" | "h" => u("duration", 60.0),
        "minute" | "minutes" | "min" | "mins" => u("duration", 1.0),
        "%" | "percent" | "per cent" => u("percent", 1.0),
        "rs" | "inr" | "₹" | "usd" | "$" | "rupees" | "dollars" | "eur" | "€" => {
            u("money", 1.0)
        }
        "gb" => u("data", 1024.0),
        "mb" => u("data", 1.0),
        "tb" => u("data", 1024.0 * 1024.0),
        "mah" => u("charge", 1.0),
        "w" | "watt" | "watts" => u("power", 1.0),
        "kw" => u("power", 1000.0),
        "v" | "volt" | "volts" => u("voltage", 1.0),
        "mp" | "megapixel" | "megapixels" => u("resolution", 1.0),
        "spf" => u("spf", 1.0),
        _ => None,
    }
}

/// Number words up to twenty, tens, and a few counting words.
pub fn number_word(word: &str) -> Option<f64> {
    #[rustfmt::skip]
    let v = match word {
        "zero" => 0.0, "one" => 1.0, "two" => 2.0, "three" => 3.0, "four" => 4.0, "five" => 5.0, "six" => 6.0, "seven" => 7.0,
        "eight" => 8.0, "nine" => 9.0, "ten" => 10.0, "eleven" => 11.0, "twelve" | "dozen" => 12.0,
        "thirteen" => 13.0, "fourteen" => 14.0, "fifteen" => 15.0, "sixteen" => 16.0,
        "seventeen" => 17.0, "eighteen" => 18.0, "nineteen" => 19.0, "twenty" => 20.0, "thirty" => 30.0,
        "forty" => 40.0, "fifty" => 50.0, "hundred" => 100.0,
        _ => return None,
    };
    Some(v)
}
