//! Pinyin spellings of names, for search by full pinyin or initials (张伟 → `zhangwei`, `zw`).

use pinyin::ToPinyin;

/// Surnames whose reading differs from the character's most common reading.
const SURNAME_READINGS: &[(&str, &str)] = &[
    ("尉迟", "yuchi"),
    ("万俟", "moqi"),
    ("单于", "chanyu"),
    ("长孙", "zhangsun"),
    ("单", "shan"),
    ("曾", "zeng"),
    ("解", "xie"),
    ("仇", "qiu"),
    ("朴", "piao"),
    ("区", "ou"),
    ("查", "zha"),
    ("乐", "yue"),
    ("员", "yun"),
    ("盖", "ge"),
    ("覃", "qin"),
    ("翟", "zhai"),
    ("缪", "miao"),
    ("宁", "ning"),
    ("柏", "bai"),
    ("种", "chong"),
    ("繁", "po"),
    ("黑", "he"),
    ("任", "ren"),
    ("沈", "shen"),
    ("重", "chong"),
    ("褚", "chu"),
    ("秘", "bi"),
    ("便", "pian"),
];

/// Full spelling and initials of a display name.
///
/// Han characters contribute their pinyin (the surname with its surname reading); runs of
/// letters and digits contribute themselves in lower case, and each run one initial.
pub fn spell(name: &str) -> (String, String) {
    let mut full = String::with_capacity(name.len() * 3);
    let mut initials = String::new();
    let mut rest = name.trim();

    let surname = SURNAME_READINGS
        .iter()
        .find(|(surname, _)| rest.starts_with(surname));
    if let Some((surname, reading)) = surname {
        full.push_str(reading);
        if surname.chars().count() == 1 {
            initials.push_str(&reading[..1]);
        } else {
            // Two-character surnames: the initial of each character's own reading.
            for c in surname.chars() {
                if let Some(p) = c.to_pinyin() {
                    initials.push_str(p.first_letter());
                }
            }
        }
        rest = &rest[surname.len()..];
    }

    let mut in_word = false;
    for c in rest.chars() {
        if let Some(p) = c.to_pinyin() {
            full.push_str(p.plain());
            initials.push_str(p.first_letter());
            in_word = false;
        } else if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                full.push(lower);
                if !in_word {
                    initials.push(lower);
                }
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    (full, initials)
}

#[cfg(test)]
mod tests {
    use super::spell;

    #[test]
    fn chinese_names() {
        assert_eq!(spell("张伟"), ("zhangwei".into(), "zw".into()));
        assert_eq!(spell("李娜"), ("lina".into(), "ln".into()));
        assert_eq!(spell(" 王小明 "), ("wangxiaoming".into(), "wxm".into()));
    }

    #[test]
    fn polyphonic_surnames_use_the_surname_reading() {
        assert_eq!(spell("曾志伟"), ("zengzhiwei".into(), "zzw".into()));
        assert_eq!(spell("单田芳"), ("shantianfang".into(), "stf".into()));
        assert_eq!(spell("解缙").1, "xj");
        assert_eq!(spell("尉迟恭").0, "yuchigong");
    }

    #[test]
    fn latin_and_mixed_names() {
        assert_eq!(spell("Alice Wang"), ("alicewang".into(), "aw".into()));
        assert_eq!(spell("O'Brien Kate"), ("obrienkate".into(), "obk".into()));
        assert_eq!(spell("张Alice"), ("zhangalice".into(), "za".into()));
        assert_eq!(spell(""), (String::new(), String::new()));
    }
}
