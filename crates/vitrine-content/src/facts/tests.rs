use super::*;

fn flags(data: &str, copy: &str) -> Vec<String> {
    ProductFacts::from_text(data)
        .check(copy)
        .findings
        .into_iter()
        .map(|f| f.code)
        .collect()
}

const TROLLEY: &str = "DKNY Unisex Black & Grey Printed Medium Trolley Bag. Black and grey printed medium \
trolley bag, secured with a TSA lockOne handle on the top and one on the side, has a trolley with a retractable \
handle on the top and four corner mounted inline skate wheelsOne main zip compartment, zip lining, two \
compression straps with click clasps, one zip compartment on the flap with three zip pocketsWarranty: 5 \
yearsWarranty provided by Brand Owner / Manufacturer";

#[test]
fn faithful_copy_passes() {
    let copy = "A medium trolley bag in black and gray print with a TSA lock.\n- Four corner-mounted skate \
wheels\n- Three zip pockets on the flap\n- 5-year warranty from the brand";
    assert_eq!(flags(TROLLEY, copy), Vec::<String>::new());
}

#[test]
fn wrong_colour_material_number_and_capability_are_flagged() {
    assert_eq!(
        flags(TROLLEY, "A red trolley bag."),
        ["colour_contradicted"]
    );
    assert_eq!(
        flags(TROLLEY, "Three zip pockets and a 7 years warranty."),
        ["number_contradicted"]
    );
    assert_eq!(
        flags(TROLLEY, "It has five zip pockets."),
        ["number_unsupported"]
    );
    assert_eq!(
        flags(TROLLEY, "Warranty: 5 months."),
        ["number_contradicted"]
    );
    assert_eq!(
        flags(TROLLEY, "A waterproof shell."),
        ["capability_unsupported"]
    );
    assert_eq!(
        flags(TROLLEY, "A splash-proof shell."),
        ["capability_unsupported"]
    );
    assert_eq!(
        flags("Blue cotton kurta", "Blue silk kurta"),
        ["material_contradicted"]
    );
}

#[test]
fn negation_in_the_data_contradicts_the_claim() {
    assert_eq!(
        flags("Black solid non-padded non-wired bra", "A padded bra"),
        ["capability_contradicted"]
    );
    assert!(flags(
        "Black solid non-padded non-wired bra",
        "A non-padded black bra"
    )
    .is_empty());
}

#[test]
fn synonyms_and_families_are_supported() {
    assert!(
        flags(
            "Navy Blue shirt in pure cotton",
            "A navy shirt in cotton, machine wash"
        )
        .len()
            == 1
    );
    assert!(flags(
        "Charcoal Grey lycra top, machine washable",
        "Dark gray spandex top; machine wash"
    )
    .is_empty());
}

#[test]
fn gender_and_price_are_checked() {
    assert_eq!(
        flags("Men Blue Jeans", "Jeans for women"),
        ["gender_contradicted"]
    );
    let p = ProductFacts::from_text("Blue jeans. Rs 899");
    assert!(p.check("Now ₹899").findings.is_empty());
    assert_eq!(p.check("Now ₹799").findings.len(), 1);
}

#[test]
fn copy_about_another_kind_of_product_is_flagged() {
    let jeans =
        "SPYKAR Women Pink Cropped Jeans. Pink coloured wash 5-pocket high-rise cropped jeans";
    assert_eq!(
        flags(jeans, "A pink scarf made for summer."),
        ["producttype_contradicted"]
    );
    assert!(flags(jeans, "These pink jeans are cropped.").is_empty());
}
