//! Validation of custom field values against their definitions.

use std::collections::HashMap;

use super::{
    DirectoryError,
    model::{CustomFields, FieldDefinition, FieldEntity, FieldType},
};

/// The field definitions in force, by entity and key.
#[derive(Debug, Clone, Default)]
pub struct FieldSchema {
    defs: HashMap<(FieldEntity, String), FieldDefinition>,
}

impl FieldSchema {
    pub fn new(defs: impl IntoIterator<Item = FieldDefinition>) -> Self {
        Self {
            defs: defs
                .into_iter()
                .map(|d| ((d.entity, d.key.clone()), d))
                .collect(),
        }
    }

    pub fn get(&self, entity: FieldEntity, key: &str) -> Option<&FieldDefinition> {
        self.defs.get(&(entity, key.to_owned()))
    }

    pub fn all(&self) -> impl Iterator<Item = &FieldDefinition> {
        self.defs.values()
    }

    pub fn insert(&mut self, def: FieldDefinition) {
        self.defs.insert((def.entity, def.key.clone()), def);
    }

    pub fn remove(&mut self, entity: FieldEntity, key: &str) -> Option<FieldDefinition> {
        self.defs.remove(&(entity, key.to_owned()))
    }

    /// Checks every value against its definition and that required fields are present.
    /// A `null` value removes the field, so it counts as absent.
    pub fn validate(
        &self,
        entity: FieldEntity,
        values: &CustomFields,
    ) -> Result<(), DirectoryError> {
        for (key, value) in values {
            let field = format!("custom.{key}");
            let def = self.get(entity, key).ok_or_else(|| {
                DirectoryError::invalid(&field, "no such custom field is defined")
            })?;
            if value.is_null() {
                continue;
            }
            let ok = match def.field_type {
                FieldType::Text => value.as_str().is_some_and(|s| s.chars().count() <= 2000),
                FieldType::Number => value.is_number(),
                FieldType::Bool => value.is_boolean(),
                FieldType::Date => value
                    .as_str()
                    .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
                FieldType::Choice => value
                    .as_str()
                    .is_some_and(|s| def.choices.iter().any(|c| c == s)),
            };
            if !ok {
                let expected = match def.field_type {
                    FieldType::Text => "text of at most 2000 characters".to_owned(),
                    FieldType::Number => "a number".to_owned(),
                    FieldType::Bool => "true or false".to_owned(),
                    FieldType::Date => "a date as YYYY-MM-DD".to_owned(),
                    FieldType::Choice => format!("one of: {}", def.choices.join(", ")),
                };
                return Err(DirectoryError::invalid(
                    &field,
                    format!("must be {expected}"),
                ));
            }
        }
        for def in self
            .defs
            .values()
            .filter(|d| d.entity == entity && d.required)
        {
            if values.get(&def.key).is_none_or(serde_json::Value::is_null) {
                return Err(DirectoryError::invalid(
                    &format!("custom.{}", def.key),
                    "is required",
                ));
            }
        }
        Ok(())
    }
}

/// Applies a patch of custom values: keys set to `null` are removed, others replaced.
pub fn merge(current: &CustomFields, patch: &CustomFields) -> CustomFields {
    let mut merged = current.clone();
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> FieldSchema {
        FieldSchema::new([
            FieldDefinition {
                entity: FieldEntity::Staff,
                key: "employee_no".into(),
                label: "Employee number".into(),
                field_type: FieldType::Text,
                required: true,
                choices: vec![],
            },
            FieldDefinition {
                entity: FieldEntity::Staff,
                key: "shirt".into(),
                label: "Shirt size".into(),
                field_type: FieldType::Choice,
                required: false,
                choices: vec!["S".into(), "M".into()],
            },
        ])
    }

    fn fields(value: serde_json::Value) -> CustomFields {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn accepts_valid_values() {
        schema()
            .validate(
                FieldEntity::Staff,
                &fields(json!({"employee_no": "E1", "shirt": "M"})),
            )
            .unwrap();
    }

    #[test]
    fn rejects_unknown_wrong_and_missing() {
        let s = schema();
        let err = s
            .validate(
                FieldEntity::Staff,
                &fields(json!({"employee_no": "E1", "x": 1})),
            )
            .unwrap_err();
        assert!(err.to_string().contains("custom.x"), "{err}");
        let err = s
            .validate(
                FieldEntity::Staff,
                &fields(json!({"employee_no": "E1", "shirt": "XL"})),
            )
            .unwrap_err();
        assert!(err.to_string().contains("one of: S, M"), "{err}");
        let err = s
            .validate(FieldEntity::Staff, &fields(json!({})))
            .unwrap_err();
        assert!(
            err.to_string().contains("custom.employee_no: is required"),
            "{err}"
        );
        // Department fields are not staff fields.
        assert!(
            s.validate(
                FieldEntity::Department,
                &fields(json!({"employee_no": "E1"}))
            )
            .is_err()
        );
    }

    #[test]
    fn merge_removes_nulls() {
        let merged = merge(
            &fields(json!({"a": 1, "b": 2})),
            &fields(json!({"a": null, "c": 3})),
        );
        assert_eq!(merged, fields(json!({"b": 2, "c": 3})));
    }
}
