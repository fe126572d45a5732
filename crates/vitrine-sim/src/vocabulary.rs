//! The demo store's vocabulary: departments, leaf categories with their nouns, price bands and attribute
//! schemas, brands, colours and materials. Kept as data so the generator stays small and readable.

/// One leaf category and what its products look like.
pub struct Leaf {
    /// Path from the root.
    pub path: &'static [&'static str],
    /// Product nouns ("Linen Shirt" is material + noun).
    pub nouns: &'static [&'static str],
    /// Median list price in USD.
    pub median_price: f64,
    /// Materials that make sense here.
    pub materials: &'static [&'static str],
    /// Sizes offered (empty when not sized).
    pub sizes: &'static [&'static str],
    /// Use cases shoppers search for.
    pub uses: &'static [&'static str],
    /// Gender the leaf is for, if any.
    pub gender: Option<&'static str>,
    /// Whether items here may be waterproof.
    pub can_be_waterproof: bool,
    /// Baseline return rate (fit-sensitive apparel returns far more than chargers).
    pub base_return_rate: f64,
}

const CLOTH_SIZES: &[&str] = &["XS", "S", "M", "L", "XL", "XXL"];
const SHOE_SIZES: &[&str] = &["6", "7", "8", "9", "10", "11", "12"];

/// Every leaf category of the demo store.
pub const LEAVES: &[Leaf] = &[
    Leaf {
        path: &["Apparel", "Men", "Shirts"],
        nouns: &["Shirt", "Oxford Shirt", "Overshirt"],
        median_price: 45.0,
        materials: &["cotton", "linen", "flannel", "denim"],
        sizes: CLOTH_SIZES,
        uses: &["office", "casual", "travel"],
        gender: Some("men"),
        can_be_waterproof: false,
        base_return_rate: 0.18,
    },
    Leaf {
        path: &["Apparel", "Men", "Jackets"],
        nouns: &["Rain Jacket", "Puffer Jacket", "Field Jacket"],
        median_price: 120.0,
        materials: &["nylon", "polyester", "wool", "cotton"],
        sizes: CLOTH_SIZES,
        uses: &["hiking", "commuting", "travel"],
        gender: Some("men"),
        can_be_waterproof: true,
        base_return_rate: 0.15,
    },
    Leaf {
        path: &["Apparel", "Men", "Jeans"],
        nouns: &["Slim Jeans", "Straight Jeans", "Relaxed Jeans"],
        median_price: 60.0,
        materials: &["denim", "stretch denim"],
        sizes: &["28", "30", "32", "34", "36", "38"],
        uses: &["casual", "work"],
        gender: Some("men"),
        can_be_waterproof: false,
        base_return_rate: 0.25,
    },
    Leaf {
        path: &["Apparel", "Women", "Dresses"],
        nouns: &["Wrap Dress", "Midi Dress", "Shirt Dress"],
        median_price: 70.0,
        materials: &["linen", "viscose", "cotton", "silk"],
        sizes: CLOTH_SIZES,
        uses: &["party", "office", "summer"],
        gender: Some("women"),
        can_be_waterproof: false,
        base_return_rate: 0.30,
    },
    Leaf {
        path: &["Apparel", "Women", "Tops"],
        nouns: &["Blouse", "T-Shirt", "Tank Top"],
        median_price: 35.0,
        materials: &["cotton", "linen", "silk", "modal"],
        sizes: CLOTH_SIZES,
        uses: &["casual", "office", "summer"],
        gender: Some("women"),
        can_be_waterproof: false,
        base_return_rate: 0.20,
    },
    Leaf {
        path: &["Apparel", "Women", "Sweaters"],
        nouns: &["Cardigan", "Crewneck Sweater", "Turtleneck"],
        median_price: 65.0,
        materials: &["wool", "cashmere", "cotton", "merino wool"],
        sizes: CLOTH_SIZES,
        uses: &["winter", "office", "casual"],
        gender: Some("women"),
        can_be_waterproof: false,
        base_return_rate: 0.17,
    },
    Leaf {
        path: &["Footwear", "Men", "Running Shoes"],
        nouns: &["Running Shoes", "Trail Runners", "Racing Flats"],
        median_price: 110.0,
        materials: &["mesh", "knit", "synthetic"],
        sizes: SHOE_SIZES,
        uses: &["running", "gym", "trail"],
        gender: Some("men"),
        can_be_waterproof: true,
        base_return_rate: 0.22,
    },
    Leaf {
        path: &["Footwear", "Men", "Boots"],
        nouns: &["Hiking Boots", "Chelsea Boots", "Work Boots"],
        median_price: 130.0,
        materials: &["leather", "suede", "nubuck"],
        sizes: SHOE_SIZES,
        uses: &["hiking", "work", "winter"],
        gender: Some("men"),
        can_be_waterproof: true,
        base_return_rate: 0.20,
    },
    Leaf {
        path: &["Footwear", "Women", "Sneakers"],
        nouns: &["Sneakers", "Platform Sneakers", "Slip-On Sneakers"],
        median_price: 85.0,
        materials: &["canvas", "leather", "knit"],
        sizes: SHOE_SIZES,
        uses: &["casual", "walking", "travel"],
        gender: Some("women"),
        can_be_waterproof: false,
        base_return_rate: 0.24,
    },
    Leaf {
        path: &["Footwear", "Women", "Sandals"],
        nouns: &["Sandals", "Slides", "Espadrilles"],
        median_price: 50.0,
        materials: &["leather", "cork", "rubber"],
        sizes: SHOE_SIZES,
        uses: &["summer", "beach", "casual"],
        gender: Some("women"),
        can_be_waterproof: true,
        base_return_rate: 0.19,
    },
    Leaf {
        path: &["Home", "Bedding"],
        nouns: &["Duvet Cover", "Sheet Set", "Throw Blanket"],
        median_price: 80.0,
        materials: &["cotton", "linen", "bamboo", "wool"],
        sizes: &["Twin", "Queen", "King"],
        uses: &["bedroom", "guest room"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.08,
    },
    Leaf {
        path: &["Home", "Kitchen"],
        nouns: &[
            "Chef Knife",
            "Dutch Oven",
            "Cutting Board",
            "Coffee Grinder",
        ],
        median_price: 60.0,
        materials: &["stainless steel", "cast iron", "acacia wood", "ceramic"],
        sizes: &[],
        uses: &["cooking", "baking", "coffee"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.05,
    },
    Leaf {
        path: &["Home", "Lighting"],
        nouns: &["Table Lamp", "Floor Lamp", "Pendant Light"],
        median_price: 90.0,
        materials: &["brass", "ceramic", "rattan", "glass"],
        sizes: &[],
        uses: &["living room", "bedroom", "office"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.07,
    },
    Leaf {
        path: &["Electronics", "Audio"],
        nouns: &[
            "Wireless Earbuds",
            "Over-Ear Headphones",
            "Bluetooth Speaker",
        ],
        median_price: 95.0,
        materials: &["plastic", "aluminium"],
        sizes: &[],
        uses: &["commuting", "gym", "home"],
        gender: None,
        can_be_waterproof: true,
        base_return_rate: 0.09,
    },
    Leaf {
        path: &["Electronics", "Accessories"],
        nouns: &["USB-C Charger", "Power Bank", "Phone Case"],
        median_price: 30.0,
        materials: &["plastic", "silicone", "aluminium"],
        sizes: &[],
        uses: &["travel", "everyday"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.04,
    },
    Leaf {
        path: &["Electronics", "Wearables"],
        nouns: &["Smartwatch", "Fitness Tracker"],
        median_price: 180.0,
        materials: &["aluminium", "silicone", "stainless steel"],
        sizes: &["S", "M", "L"],
        uses: &["running", "fitness", "everyday"],
        gender: None,
        can_be_waterproof: true,
        base_return_rate: 0.10,
    },
    Leaf {
        path: &["Beauty", "Skincare"],
        nouns: &["Face Serum", "Moisturiser", "Cleanser", "Sunscreen"],
        median_price: 28.0,
        materials: &["hyaluronic acid", "vitamin C", "niacinamide", "aloe"],
        sizes: &["30 ml", "50 ml", "100 ml"],
        uses: &["dry skin", "oily skin", "daily care"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.03,
    },
    Leaf {
        path: &["Beauty", "Fragrance"],
        nouns: &["Eau de Parfum", "Eau de Toilette", "Body Mist"],
        median_price: 75.0,
        materials: &["citrus", "woody", "floral", "musk"],
        sizes: &["30 ml", "50 ml", "100 ml"],
        uses: &["evening", "everyday"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.04,
    },
    Leaf {
        path: &["Sports", "Camping"],
        nouns: &["Tent", "Sleeping Bag", "Camping Stove", "Backpack"],
        median_price: 140.0,
        materials: &["ripstop nylon", "polyester", "aluminium"],
        sizes: &[],
        uses: &["camping", "hiking", "festival"],
        gender: None,
        can_be_waterproof: true,
        base_return_rate: 0.08,
    },
    Leaf {
        path: &["Sports", "Yoga"],
        nouns: &["Yoga Mat", "Yoga Block", "Yoga Leggings"],
        median_price: 40.0,
        materials: &["natural rubber", "cork", "TPE", "recycled polyester"],
        sizes: &[],
        uses: &["yoga", "pilates", "gym"],
        gender: None,
        can_be_waterproof: false,
        base_return_rate: 0.09,
    },
];

/// Brands by department (index into `LEAVES[i].path[0]`).
pub const BRANDS: &[(&str, &[&str])] = &[
    (
        "Apparel",
        &[
            "Northwind",
            "Harbor & Pine",
            "Linea",
            "Urban Thread",
            "Kestrel",
            "Maison Verte",
        ],
    ),
    (
        "Footwear",
        &["Stride", "Trailcrest", "Pavé", "Summit Co.", "Velo"],
    ),
    ("Home", &["Hearth", "Oak & Ash", "Lumen", "Casa Nova"]),
    ("Electronics", &["Voltix", "Sonora", "Pulse", "Arcwave"]),
    ("Beauty", &["Lumière", "Botanica", "Dermique", "Aurelle"]),
    ("Sports", &["Basecamp", "Flowstate", "Ridgeline"]),
];

/// Colours with a display name.
pub const COLOURS: &[&str] = &[
    "black",
    "white",
    "navy",
    "grey",
    "beige",
    "olive",
    "burgundy",
    "sky blue",
    "forest green",
    "mustard",
    "blush pink",
    "charcoal",
];

/// Seasons.
pub const SEASONS: &[&str] = &["spring", "summer", "autumn", "winter", "all-season"];

/// Fits or styles, for readable copy.
pub const STYLES: &[&str] = &[
    "classic",
    "modern",
    "minimalist",
    "relaxed",
    "lightweight",
    "premium",
    "everyday",
    "versatile",
];

/// Brands of the department a leaf belongs to.
pub fn brands_for(leaf: &Leaf) -> &'static [&'static str] {
    BRANDS
        .iter()
        .find(|(d, _)| *d == leaf.path[0])
        .map(|(_, b)| *b)
        .unwrap_or(&["Generic"])
}
